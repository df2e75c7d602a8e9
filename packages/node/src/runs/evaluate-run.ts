import * as fs from 'node:fs';
import * as path from 'node:path';
import { foreignEntry, makeStaging, markComplete, replaceFolder } from './folder-swap';
import * as tf from '@tensorflow/tfjs-core';
import { evaluationMetrics, scoresFromCounts, type EvaluationMetrics, type ImageResult, type PixelSpacing, pluralize } from '@busi/core';
import { SampleDataset, hstack, renderOverlay, writePng, type SplitIndices } from '@busi/data';
import type { CliContext } from '../cli/args';
import { formatEvaluation } from '../report/evaluation';
import { evaluationHtml, evaluationMarkdown, type EvaluationSummary, type GalleryItem, type PerImageRow } from '../report/html';
import { lineChartSvg, writeChart } from '../report/plot';
import { formatDuration } from '../report/progress';
import type { LoadedData } from './data';
import { scorePredictor } from './image-scores';
import { loadPredictor, type Predictor, type TtaMode } from './predictor';
import { RUN_FILES, parseHistoryCsv, readJson, writeJsonAtomic, type RunStatus } from './run-folder';
import { reportPart } from './run-split';
import { readRunConfig, type RunConfig } from './train-run';

/** Names busi evaluate writes into its output folder (for folders written before complete.json). */
export const EVALUATION_FILES = [/^metrics\.(json|md)$/, /^report\.html$/, /^(curves-[\w-]+|roc|reliability)\.(svg|png)$/, /^gallery$/, /^\d{2}-[\w.-]+\.png$/, /\.tmp-\d+$/];

/** Arguments of {@link evaluateRun}. */
export interface EvaluateRunArgs {
  /** Folder of the saved model (model.json + weights); with `ensemble`, the first of them. */
  modelDir: string;
  /** More model folders whose probabilities are averaged with `modelDir`'s (a fold ensemble). */
  ensemble?: readonly string[];
  /** Test-time augmentation. Default 'none'. */
  tta?: TtaMode;
  /** mm per pixel of the scored (resized) masks, for HD95 and ASD in mm. */
  spacing?: PixelSpacing;
  /** The bootstrap behind the 95 % intervals. */
  bootstrap?: {
    /** Seed of the resampling. Default 0. */
    seed?: number;
    /** Resamples of the images. Default 1000. */
    resamples?: number;
  };
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

/**
 * Scores a saved model (or an ensemble, with optional flip TTA) and writes metrics.json (headline
 * numbers with 95 % bootstrap intervals, per-class ROC AUC and AP, ECE, HD95/ASD, per-image
 * scores), metrics.md, report.html (with a ROC plot and a reliability diagram), charts and gallery into `outDir`.
 */
export async function evaluateRun(a: EvaluateRunArgs): Promise<EvaluationSummary> {
  const t0 = Date.now();
  const say = (s: string) => a.ctx.stdout.write(`${s}\n`);
  if (a.indices.length === 0) throw new Error('evaluate: no images to score');
  const foreign = foreignEntry(a.outDir, EVALUATION_FILES);
  if (foreign) throw new Error(`evaluate: '${a.outDir}' holds '${foreign}', which busi evaluate did not write; not replacing it`);
  const predictor = await loadPredictor([a.modelDir, ...(a.ensemble ?? [])], a.tta ?? 'none');
  try {
    const dataset = new SampleDataset(a.data.source, { normalization: a.config.normalization }, a.indices);
    const scores = await scorePredictor(predictor, dataset, { lambda: a.config.lambda, classNames: a.data.classNames, spacing: a.spacing, batchSize: a.batchSize });
    const metrics = evaluationMetrics(scores.images, { classNames: a.data.classNames, seed: a.bootstrap?.seed, resamples: a.bootstrap?.resamples });
    const summary: EvaluationSummary = {
      title: a.title,
      model: a.modelDir,
      predictor: predictor.describe,
      data: a.data.describe,
      images: a.indices.length,
      losses: scores.losses,
      classification: scores.classification,
      segmentation: scores.segmentation,
      metrics,
      spacing: a.spacing ?? null,
      perImage: perImageRows(a.data, a.indices, scores.images),
    };
    // Written whole into a staging folder, then swapped in: a kill leaves the previous report or the new one.
    const staging = makeStaging(a.outDir);
    let written = { charts: 0, gallery: 0 };
    try {
      writeJsonAtomic(path.join(staging, 'metrics.json'), summary);
      fs.writeFileSync(path.join(staging, 'metrics.md'), evaluationMarkdown(summary));
      const charts = [...(await evaluationCharts(metrics, staging)), ...(await trainingCharts(a.runDir, staging))];
      const gallery = await writeGallery(predictor, dataset, a.data, a.indices, path.join(staging, 'gallery'), a.gallery);
      fs.writeFileSync(path.join(staging, 'report.html'), evaluationHtml(summary, charts, gallery, runDetails(a.runDir)));
      markComplete(staging);
      replaceFolder(staging, a.outDir);
      written = { charts: charts.length, gallery: gallery.length };
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    say(`${a.title} (${pluralize(a.indices.length, 'image')}; ${predictor.describe}):`);
    say(formatEvaluation(scores, scores.losses));
    say(formatHeadline(metrics));
    say(`wrote metrics.json, metrics.md, report.html, ${pluralize(written.charts, 'chart')} and ${pluralize(written.gallery, 'gallery image')} to ${a.outDir} in ${formatDuration((Date.now() - t0) / 1000)}`);
    return summary;
  } finally {
    predictor.dispose();
  }
}

/** One row per scored image for metrics.json: id, truth, prediction, its probabilities and scores. */
function perImageRows(data: LoadedData, indices: readonly number[], images: readonly ImageResult[]): PerImageRow[] {
  return images.map((r, j) => {
    const s = scoresFromCounts(r.counts);
    let best = 0;
    for (let k = 1; k < r.probabilities.length; k++) if (r.probabilities[k] > r.probabilities[best]) best = k;
    const num = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      id: data.ids[indices[j]],
      truth: data.classNames[r.label],
      predicted: data.classNames[best],
      probabilities: Array.from(r.probabilities),
      dice: s.dice,
      iou: s.iou,
      hd95: num(r.distances.hd95),
      asd: num(r.distances.asd),
      ...(r.distancesMm ? { hd95_mm: num(r.distancesMm.hd95), asd_mm: num(r.distancesMm.asd) } : {}),
    };
  });
}

/** The ROC plot (one curve per class, one-vs-rest) and the reliability diagram, as SVG and PNG. */
async function evaluationCharts(m: EvaluationMetrics, outDir: string): Promise<{ title: string; svg: string }[]> {
  const roc = lineChartSvg(
    [
      ...m.classNames.map((name) => ({ name: `${name} (AUC ${fmtNum(m.headline[`auc_${name}`]?.value)})`, x: m.roc[name].fpr, y: m.roc[name].tpr })),
      { name: 'chance', x: [0, 1], y: [0, 1], color: '#999' },
    ],
    { title: 'ROC, one class vs the rest', xLabel: 'false-positive rate', yLabel: 'true-positive rate', yRange: [0, 1], markers: false },
  );
  const filled = m.calibration.bins.filter((b) => b.count > 0);
  const reliability = lineChartSvg(
    [
      { name: `accuracy per confidence bin (ECE ${fmtNum(m.calibration.ece)})`, x: filled.map((b) => b.confidence), y: filled.map((b) => b.accuracy) },
      { name: 'perfect calibration', x: [0, 1], y: [0, 1], color: '#999' },
    ],
    { title: 'Reliability diagram', xLabel: 'confidence (top-class probability)', yLabel: 'accuracy', yRange: [0, 1] },
  );
  await writeChart(path.join(outDir, 'roc'), roc);
  await writeChart(path.join(outDir, 'reliability'), reliability);
  return [
    { title: 'ROC', svg: roc },
    { title: 'Reliability', svg: reliability },
  ];
}

const fmtNum = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : 'n/a');

/** The headline numbers with their intervals, one line each. */
export function formatHeadline(m: EvaluationMetrics): string {
  const lines = [`  headline (95 % bootstrap CI over ${pluralize(m.images, 'image')}, ${pluralize(m.bootstrap.resamples, 'resample')}):`];
  for (const [k, ci] of Object.entries(m.headline)) lines.push(`    ${k.padEnd(16)} ${fmtNum(ci.value)}  [${fmtNum(ci.low)}, ${fmtNum(ci.high)}]`);
  const d = m.distanceCoverage;
  lines.push(`  distances over ${pluralize(d.measured, 'image')} with a lesion in truth and prediction (${d.missed} missed, ${pluralize(d.falseLesion, 'false lesion')}, ${d.bothEmpty} both empty)`);
  return lines.join('\n');
}

/** Folder of a run that holds the evaluation of its finished model. */
export const RUN_EVALUATION = 'evaluation';

/**
 * The closing step of a finished training run (`busi train`'s report): scores its best model on
 * the run's report part (test of a three-way split, else validation) into `<run>/evaluation`. Null
 * when the run saved no best model.
 */
export async function evaluateFinishedRun(dir: string, config: RunConfig, trained: { data: LoadedData; split: SplitIndices }, ctx: CliContext): Promise<EvaluationSummary | null> {
  if (!fs.existsSync(path.join(dir, RUN_FILES.best))) return null;
  const part = reportPart(trained.split);
  return evaluateRun({
    modelDir: path.join(dir, RUN_FILES.best),
    runDir: dir,
    config,
    data: trained.data,
    indices: part.indices,
    outDir: path.join(dir, RUN_EVALUATION),
    ctx,
    gallery: 8,
    title: `${part.name} part of ${path.basename(dir)}`,
  });
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
    model: `${c.encoder} + ${c.decoder}${c.decoderChannels ? ` (${String(c.decoderChannels)})` : ''}${c.encoderWeights ? `, encoder from ${path.basename(c.encoderWeights)}` : ', random init'}`,
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

async function writeGallery(predictor: Predictor, dataset: SampleDataset, data: LoadedData, indices: readonly number[], dir: string, n: number): Promise<GalleryItem[]> {
  const picks = spreadOverClasses(indices, data.labels, n);
  if (picks.length === 0) return [];
  const pos = new Map(indices.map((s, j) => [s, j]));
  const batch = await dataset.getBatch(picks.map((s) => pos.get(s)!), { training: false, epoch: 0 });
  const { probs, classes, confidence } = tf.tidy(() => {
    const o = predictor.forward(batch.images);
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
