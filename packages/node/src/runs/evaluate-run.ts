import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskMetrics, MultiTaskModel, Trainer } from '@busi/core';
import { SampleDataset, fileSystem, hstack, renderOverlay, writePng } from '@busi/data';
import type { CliContext } from '../cli/args';
import { formatEvaluation } from '../report/evaluation';
import { evaluationHtml, evaluationMarkdown, type EvaluationSummary, type GalleryItem } from '../report/html';
import { lineChartSvg, writeChart } from '../report/plot';
import { formatDuration } from '../report/progress';
import type { LoadedData } from './data';
import { RUN_FILES, parseHistoryCsv, readJson, writeJsonAtomic, type RunStatus } from './run-folder';
import { readRunConfig, type RunConfig } from './train-run';

/** Arguments of {@link evaluateRun}. */
export interface EvaluateRunArgs {
  /** Folder of the saved model (model.json + weights). */
  modelDir: string;
  /** Run folder whose history.csv is plotted, or null. */
  runDir: string | null;
  /** Normalisation and λ the model was trained with. */
  config: Pick<RunConfig, 'normalization' | 'lambda'>;
  /** The images to score. */
  data: LoadedData;
  /** Samples of `data` to score. */
  indices: readonly number[];
  /** Where metrics.json, metrics.md, report.html and the PNGs go. */
  outDir: string;
  /** Output streams and working directory. */
  ctx: CliContext;
  /** Gallery size. */
  gallery: number;
  /** Inference batch size. */
  batchSize?: number;
  /** Report title. */
  title: string;
}

/** Scores a saved model and writes metrics.json, metrics.md, report.html, charts and gallery into `outDir`. */
export async function evaluateRun(a: EvaluateRunArgs): Promise<EvaluationSummary> {
  const t0 = Date.now();
  const say = (s: string) => a.ctx.stdout.write(`${s}\n`);
  if (a.indices.length === 0) throw new Error('evaluate: no images to score');
  const model = await MultiTaskModel.load(fileSystem(a.modelDir));
  const metrics = new MultiTaskMetrics({ classNames: [...a.data.classNames] });
  const trainer = new Trainer(model, { lambda: a.config.lambda, metrics: [metrics], batchSize: a.batchSize ?? 8 });
  try {
    const dataset = new SampleDataset(a.data.source, { normalization: a.config.normalization }, a.indices);
    const logs = await trainer.evaluate(dataset);
    const report = metrics.report();
    const summary: EvaluationSummary = {
      title: a.title,
      model: a.modelDir,
      data: a.data.describe,
      images: a.indices.length,
      losses: { loss: logs.loss, segmentation_loss: logs.segmentation_loss, classification_loss: logs.classification_loss },
      ...report,
    };
    fs.mkdirSync(a.outDir, { recursive: true });
    writeJsonAtomic(path.join(a.outDir, 'metrics.json'), summary);
    fs.writeFileSync(path.join(a.outDir, 'metrics.md'), evaluationMarkdown(summary));
    const charts = await trainingCharts(a.runDir, a.outDir);
    const gallery = await writeGallery(model, dataset, a.data, a.indices, path.join(a.outDir, 'gallery'), a.gallery);
    fs.writeFileSync(path.join(a.outDir, 'report.html'), evaluationHtml(summary, charts, gallery, runDetails(a.runDir)));
    say(`${a.title} (${a.indices.length} images):`);
    say(formatEvaluation(report, logs));
    say(`wrote metrics.json, metrics.md, report.html, ${charts.length} charts and ${gallery.length} gallery images to ${a.outDir} in ${formatDuration((Date.now() - t0) / 1000)}`);
    return summary;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

async function trainingCharts(runDir: string | null, outDir: string): Promise<{ title: string; svg: string }[]> {
  const file = runDir ? path.join(runDir, RUN_FILES.history) : null;
  if (!file || !fs.existsSync(file)) return [];
  const h = parseHistoryCsv(fs.readFileSync(file, 'utf8'));
  const x = h.epoch ?? [];
  const pick = (keys: string[]) => keys.filter((k) => k in h).map((name) => ({ name, x, y: h[name] }));
  const specs = [
    { title: 'Loss', base: 'curves-loss', series: pick(['loss', 'val_loss', 'segmentation_loss', 'val_segmentation_loss', 'classification_loss', 'val_classification_loss']), yLabel: 'loss' },
    { title: 'Validation scores', base: 'curves-scores', series: pick(['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1']), yLabel: 'score' },
  ];
  const charts: { title: string; svg: string }[] = [];
  for (const s of specs) {
    if (s.series.length === 0) continue;
    const svg = lineChartSvg(s.series, { title: s.title, xLabel: 'epoch', yLabel: s.yLabel });
    await writeChart(path.join(outDir, s.base), svg);
    charts.push({ title: s.title, svg });
  }
  return charts;
}

function runDetails(runDir: string | null): Record<string, string> {
  if (!runDir || !fs.existsSync(path.join(runDir, RUN_FILES.config))) return {};
  const c = readRunConfig(runDir);
  const st = fs.existsSync(path.join(runDir, RUN_FILES.status)) ? readJson<RunStatus>(path.join(runDir, RUN_FILES.status)) : null;
  return {
    model: `${c.encoder} + ${c.decoder}${c.decoderChannels ? ` (${c.decoderChannels.join(',')})` : ''}${c.encoderWeights ? `, encoder from ${path.basename(c.encoderWeights)}` : ', random init'}`,
    data: c.data.kind === 'busi' ? c.data.dir : `${c.data.count} synthetic (seed ${c.data.seed})`,
    input: `${c.size}x${c.size}`,
    loss: `${c.lambda}·Dice + ${Number((1 - c.lambda).toFixed(6))}·Focal`,
    optimizer: `${c.optimizer}, lr ${c.lr}, weight decay ${c.weightDecay}, batch ${c.batchSize}${c.microBatch < c.batchSize ? ` (micro-batches of ${c.microBatch})` : ''}`,
    epochs: st ? `${st.epochsDone} of ${c.epochs} (${st.status}); best by ${c.monitor}: epoch ${st.bestEpoch ?? '-'}` : String(c.epochs),
    augmentation: c.augment ? 'flip, affine, brightness/contrast, speckle' : 'none',
    seed: String(c.seed),
    backend: c.backend,
  };
}

/** Up to `n` samples taken round-robin over the classes, so every class shows. */
function spreadOverClasses(indices: readonly number[], labels: readonly number[], n: number): number[] {
  const byClass = new Map<number, number[]>();
  for (const i of indices) byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
  const queues = [...byClass.entries()].sort((p, q) => p[0] - q[0]).map((e) => e[1]);
  const out: number[] = [];
  for (let r = 0; out.length < n && queues.some((q) => q.length > r); r++) {
    for (const q of queues) if (q.length > r && out.length < n) out.push(q[r]);
  }
  return out;
}

async function writeGallery(model: MultiTaskModel, dataset: SampleDataset, data: LoadedData, indices: readonly number[], dir: string, n: number): Promise<GalleryItem[]> {
  fs.rmSync(dir, { recursive: true, force: true });
  const picks = spreadOverClasses(indices, data.labels, n);
  if (picks.length === 0) return [];
  const pos = new Map(indices.map((s, j) => [s, j]));
  const batch = await dataset.getBatch(picks.map((s) => pos.get(s)!), { training: false, epoch: 0 });
  const { probs, classes, confidence } = tf.tidy(() => {
    const o = model.predict(batch.images);
    const p = tf.softmax(o.logits);
    return { probs: tf.sigmoid(o.mask), classes: tf.argMax(p, 1), confidence: tf.max(p, 1) };
  });
  tf.dispose([batch.images, batch.masks, batch.labels]);
  const p = await probs.data();
  const cls = await classes.data();
  const conf = await confidence.data();
  tf.dispose([probs, classes, confidence]);
  const { height: h, width: w, channels: c } = data.source;
  const items: GalleryItem[] = [];
  for (const [j, src] of picks.entries()) {
    const raw = await data.raw(src);
    const image = { data: raw.image, height: h, width: w, channels: c };
    const truth = raw.mask;
    const pred = p.subarray(j * h * w, (j + 1) * h * w);
    const truthName = data.classNames[data.labels[src]];
    const predName = data.classNames[cls[j]];
    const name = `${String(j).padStart(2, '0')}-${data.ids[src].replace(/[^\w.-]+/g, '_')}.png`;
    await writePng(path.join(dir, name), hstack([image, renderOverlay(image, truth, { color: [60, 230, 60], fillAlpha: 0.25 }), renderOverlay(image, pred, { groundTruth: truth })]));
    items.push({ src: `gallery/${name}`, caption: `${data.ids[src]}: truth ${truthName}, predicted ${predName} (${(conf[j] * 100).toFixed(1)}%)` });
  }
  return items;
}
