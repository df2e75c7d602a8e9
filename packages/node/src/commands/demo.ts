import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import {
  Adam,
  BUSI_CLASSES,
  MultiTaskMetrics,
  MultiTaskModel,
  Trainer,
  createModelCard,
  generateSynthetic,
  syntheticToTensors,
  tensorDataset,
  type Logs,
  type TrainingCallback,
} from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type Command, type CliContext, type OptionValues } from '../cli/args';
import { stratifiedSplit } from '@busi/data';
import { registerSlimResNet } from '../demo/slim-resnet';
import { fileSystem } from '@busi/data';
import { hstack, renderOverlay } from '@busi/data';
import { toUint8, writePng } from '@busi/data';
import { formatDuration, ProgressBar, RunningMean } from '../report/progress';
import { formatEvaluation } from '../report/evaluation';
import { DEFAULT_LAMBDA, MultiTaskLoss } from '@busi/losses';
import { nounForm, pluralize } from '@busi/core';
import { backendOption } from '../cli/backend-option';

/** Normalisation of the synthetic [0, 1] images: centred, unit-ish variance. */
const DEMO_NORM = { mean: [0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2] };

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Train a small multi-task model on synthetic ultrasound images and report its metrics',
  description: [
    'Generates a seeded synthetic ultrasound set (speckle, tissue bands; dark oval benign lesions,',
    'spiculated shadowing malignant ones, normal images without lesion), splits it 8:2 stratified,',
    'trains a slim ResNet + U-Net multi-task model (L = λ·Dice + (1-λ)·Focal), evaluates the held-out',
    'part, and writes the model, metrics and prediction overlays to the output folder.',
    'The backend is the fastest available (tfjs-node, else wasm, else cpu); --backend forces one.',
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', default: './busi-demo', description: 'Output folder', valueName: 'DIR' },
    force: { type: 'boolean', short: 'f', description: 'Overwrite an existing output folder' },
    size: { type: 'int', default: 64, min: 32, max: 512, description: 'Image size in pixels (a multiple of 32)' },
    count: { type: 'int', default: 240, min: 20, description: 'Number of synthetic images (80% train, 20% test)' },
    epochs: { type: 'int', short: 'e', default: 10, min: 1, description: 'Training epochs' },
    'batch-size': { type: 'int', short: 'b', default: 8, min: 2, description: 'Images per optimizer step' },
    lr: { type: 'number', default: 0.003, min: 0, description: 'Adam learning rate' },
    lambda: { type: 'number', default: DEFAULT_LAMBDA, min: 0, max: 1, description: 'Segmentation weight λ of the loss' },
    encoder: { type: 'string', default: 'slim-resnet', description: "Encoder ('slim-resnet', or any registered one, e.g. resnet18)" },
    balance: {
      type: 'string',
      // Equal classes let the small demo model learn all three within a few epochs.
      default: 'equal',
      valueName: 'B,M,N',
      description: "Class weights benign,malignant,normal: 'busi' (437,210,133), 'equal', or three numbers",
    },
    seed: { type: 'int', default: 0, description: 'Seed of the data, split, shuffling, weight initialisation and dropout' },
    overlays: { type: 'int', default: 8, min: 0, description: 'Number of prediction overlay PNGs to write' },
    backend: backendOption(),
    quiet: { type: 'boolean', short: 'q', description: 'No progress bars' },
  },
  run: runDemo,
};

async function runDemo(v: OptionValues, _positionals: string[], ctx: CliContext): Promise<number> {
  const t0 = Date.now();
  const say = (s: string) => ctx.stdout.write(`${s}\n`);
  const size = v.size as number;
  if (size % 32 !== 0) throw new Error(`--size must be a multiple of 32 (the encoder's output stride), got ${size}`);
  const balance = parseBalance(v.balance as string);
  const out = path.resolve(ctx.cwd, v.out as string);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !v.force) {
    throw new Error(`output folder '${out}' exists and is not empty; pass --force to overwrite it`);
  }
  const backend = await initBackend({ backend: v.backend as BackendChoice, log: false });
  say(backend.summary);

  const seed = v.seed as number;
  const set = generateSynthetic({ size, count: v.count as number, seed, channels: 3, classBalance: balance });
  const split = stratifiedSplit(Array.from(set.labels), { seed, trainFraction: 0.8 });
  const counts = (idx: number[]) => BUSI_CLASSES.map((c, k) => `${idx.filter((i) => set.labels[i] === k).length} ${c}`).join(', ');
  say(`data: ${set.count} synthetic ${size}x${size} ${nounForm(set.count, 'image')}; train ${split.train.length} (${counts(split.train)}), test ${split.test.length} (${counts(split.test)})`);
  const train = syntheticToTensors(set, { indices: split.train, normalization: DEMO_NORM });
  const test = syntheticToTensors(set, { indices: split.test, normalization: DEMO_NORM });

  registerSlimResNet();
  const encoderName = v.encoder as string;
  let model: MultiTaskModel | null = null;
  const optimizer = new Adam({ learningRate: v.lr as number });
  try {
    // The seeds (model: initial weights; trainer: shuffling and dropout) make a demo run repeat.
    model = new MultiTaskModel({
      encoder: encoderName,
      decoder: { name: 'unet', decoderChannels: [64, 32, 16, 16, 8] },
      classes: BUSI_CLASSES.length,
      classificationHead: { dropout: 0.2 },
      name: `demo_unet__${encoderName}`,
      seed,
    });
    say(`model: ${encoderName} + unet, ${model.countParams().total.toLocaleString('en-US')} parameters`);

    const metrics = new MultiTaskMetrics({ classNames: [...BUSI_CLASSES] });
    const epochs = v.epochs as number;
    const batchSize = v['batch-size'] as number;
    const trainer = new Trainer(model, {
      epochs,
      batchSize,
      // BatchNorm in training mode needs more than one sample in the last batch.
      dropLast: split.train.length % batchSize === 1,
      seed,
      optimizer,
      loss: new MultiTaskLoss({ lambda: v.lambda as number }),
      validationData: tensorDataset({ images: test.images, masks: test.masks, labels: test.labels }),
      metrics: [metrics],
      callbacks: [progressCallback(ctx, epochs, Math.ceil(split.train.length / batchSize), !!v.quiet)],
      verbose: 0, // progressCallback prints the demo's own lines
    });
    const trainStart = Date.now();
    await trainer.fit(tensorDataset({ images: train.images, masks: train.masks, labels: train.labels }));
    const trainSeconds = (Date.now() - trainStart) / 1000;

    const logs = await trainer.evaluate(tensorDataset({ images: test.images, masks: test.masks, labels: test.labels }));
    const report = metrics.report();
    say('');
    say(`held-out evaluation (${pluralize(split.test.length, 'image')}):`);
    say(formatEvaluation(report, logs));

    fs.mkdirSync(out, { recursive: true });
    model.setCard(
      createModelCard({
        preprocessing: { size: [size, size], channels: 3, resize: 'bilinear', normalization: DEMO_NORM },
        classNames: [...BUSI_CLASSES],
        description: `busi demo: ${encoderName} + unet trained on ${set.count} synthetic ultrasound ${nounForm(set.count, 'image')} (not real patients).`,
        training: {
          data: `${set.count} synthetic ${size}x${size} ${nounForm(set.count, 'image')}, seed ${seed}, balance ${v.balance as string}`,
          epochs,
          'batch size': batchSize,
          optimizer: 'adam',
          'learning rate': v.lr as number,
          loss: `${v.lambda as number}·Dice + ${Number((1 - (v.lambda as number)).toFixed(6))}·Focal`,
          seed,
          backend: backend.backend,
        },
        split: { train: split.train.length, validation: split.test.length, method: `stratified 8:2, seed ${seed}` },
        metrics: {
          dice: report.segmentation.perImage.dice,
          iou: report.segmentation.perImage.iou,
          accuracy: report.classification.accuracy,
          macro_f1: report.classification.macroF1,
        },
      }),
    );
    await model.save(fileSystem(path.join(out, 'model'), { force: true }));
    const overlayFiles = await writeOverlays(model, set, split.test, test.images, path.join(out, 'overlays'), v.overlays as number);
    const summary = {
      backend: backend.backend,
      options: v,
      data: { count: set.count, size, train: split.train.length, test: split.test.length },
      parameters: model.countParams().total,
      trainSeconds,
      history: trainer.history.toJSON(),
      test: { logs, classification: report.classification, segmentation: report.segmentation },
    };
    fs.writeFileSync(path.join(out, 'metrics.json'), `${JSON.stringify(summary, null, 2)}\n`);
    say('');
    say(`wrote ${path.join(out, 'model')} (model.json + weights.bin), metrics.json, ${pluralize(overlayFiles.length, 'overlay')} in ${path.join(out, 'overlays')}`);
    say(`done in ${formatDuration((Date.now() - t0) / 1000)} (training ${formatDuration(trainSeconds)} on ${backend.backend})`);
    return 0;
  } finally {
    // Released on failure too, so a CLI embedded in a longer process does not leak.
    tf.dispose([train.images, train.masks, train.labels, train.oneHot, test.images, test.masks, test.labels, test.oneHot]);
    model?.dispose();
    optimizer.dispose();
  }
}

function parseBalance(spec: string): [number, number, number] {
  if (spec === 'busi') return [437, 210, 133];
  if (spec === 'equal') return [1, 1, 1];
  const w = spec.split(',').map(Number);
  if (w.length !== 3 || w.some((x) => !(x >= 0)) || w.every((x) => x === 0)) {
    throw new UsageError(`busi demo: --balance must be 'busi', 'equal' or three non-negative numbers like 2,1,1; got '${spec}'`);
  }
  return w as [number, number, number];
}

function progressCallback(ctx: CliContext, epochs: number, batches: number, quiet: boolean): TrainingCallback {
  let bar: ProgressBar | null = null;
  const running = new RunningMean();
  let seen = 0;
  return {
    onEpochBegin(epoch) {
      running.reset();
      seen = 0;
      if (!quiet) bar = new ProgressBar({ total: batches, label: `epoch ${String(epoch + 1).padStart(String(epochs).length)}/${epochs}`, stream: ctx.stdout });
    },
    onBatchEnd(_batch, logs) {
      running.add({ loss: logs.loss }, logs.size ?? 1);
      seen++;
      bar?.update(seen, running.values());
    },
    onEpochEnd(epoch, logs: Logs) {
      bar?.finish(running.values());
      const fmt = (k: string) => (logs[k] === undefined ? 'n/a' : logs[k].toFixed(4));
      ctx.stdout.write(
        `  epoch ${epoch + 1}: loss ${fmt('loss')}  val_loss ${fmt('val_loss')}  val_dice ${fmt('val_dice')}  val_accuracy ${fmt('val_accuracy')}\n`,
      );
    },
  };
}

async function writeOverlays(
  model: MultiTaskModel,
  set: ReturnType<typeof generateSynthetic>,
  testIdx: number[],
  testImages: tf.Tensor4D,
  dir: string,
  n: number,
): Promise<string[]> {
  fs.rmSync(dir, { recursive: true, force: true });
  const k = Math.min(n, testIdx.length);
  if (k === 0) return [];
  const { height: h, width: w, channels: c } = set;
  const { probs, classes } = tf.tidy(() => {
    const o = model.predict(tf.slice(testImages, 0, k) as tf.Tensor4D);
    return { probs: tf.sigmoid(o.mask), classes: tf.argMax(o.logits, 1) };
  });
  const p = await probs.data();
  const cls = await classes.data();
  tf.dispose([probs, classes]);
  const files: string[] = [];
  for (let j = 0; j < k; j++) {
    const src = testIdx[j];
    const image = { data: toUint8(set.images.subarray(src * h * w * c, (src + 1) * h * w * c)), height: h, width: w, channels: c };
    const truth = set.masks.subarray(src * h * w, (src + 1) * h * w);
    const left = renderOverlay(image, truth, { color: [60, 230, 60], fillAlpha: 0 });
    const right = renderOverlay(image, p.subarray(j * h * w, (j + 1) * h * w), { groundTruth: truth });
    const file = path.join(dir, `${String(j).padStart(2, '0')}-${BUSI_CLASSES[set.labels[src]]}-pred-${BUSI_CLASSES[cls[j]]}.png`);
    await writePng(file, hstack([left, right]));
    files.push(file);
  }
  return files;
}
