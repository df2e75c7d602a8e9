import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { DEFAULT_LAMBDA, MultiTaskLoss } from '@busi/losses';
import {
  Adam,
  AdamW,
  BatchNorm2d,
  Conv2d,
  EarlyStopping,
  ModelCheckpoint,
  MultiTaskModel,
  NonFiniteLossError,
  ReduceLROnPlateau,
  Trainer,
  batchIndices,
  decodeTrainerState,
  encodeTrainerState,
  generateSynthetic,
  syntheticToTensors,
  tensorDataset,
  train,
  type BatchContext,
  type Decoder,
  type Encoder,
  type Logs,
  type TrainingCallback,
  type TrainingControl,
  type TrainingDataset,
} from '../../src';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Three stride-2 convs then two stride-1 ones (output stride 8), with or without BatchNorm; small
 * kernels because the cpu backend's filter gradient is very slow.
 */
function toyEncoder(withBn: boolean): Encoder {
  const ch = [3, 4, 6, 8, 8, 8];
  return {
    name: 'toy', outChannels: ch, reductions: [1, 2, 4, 8, 8, 8], featureNames: [], outputStride: 8,
    apply(x: SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i <= 5; i++) {
        const k = i <= 3 ? 2 : 1;
        y = new Conv2d({ name: `encoder.c${i}`, filters: ch[i], kernelSize: k, strides: k }).apply(y) as SymbolicTensor;
        if (withBn) y = new BatchNorm2d({ name: `encoder.bn${i}` }).apply(y) as SymbolicTensor;
        y = layers.reLU({ name: `encoder.relu${i}` }).apply(y) as SymbolicTensor;
        out.push(y);
      }
      return out;
    },
    // EncoderConfig only names output strides 16 and 32; the toy's 8 keeps it small (the model just checks divisibility).
    getConfig: () => ({ name: 'toy', args: { inChannels: 3, depth: 5, outputStride: 8 as unknown as 16, prefix: 'encoder' } }),
  };
}

/** A per-pixel mask from the input itself (full resolution, so no upsampling is needed). */
function toyDecoder(): Decoder {
  return {
    name: 'toydec', outChannels: 4, outputStride: 1, headKernelSize: 1,
    apply(f: SymbolicTensor[]) {
      const c = new Conv2d({ name: 'decoder.c', filters: 4, kernelSize: 1 }).apply(f[0]) as SymbolicTensor;
      return layers.reLU({ name: 'decoder.relu' }).apply(c) as SymbolicTensor;
    },
    getConfig: () => ({ name: 'toydec', args: {} }),
  };
}

/** The toy model with seeded He-normal kernels (biases and BatchNorm keep their fixed defaults), so runs are deterministic. */
function toyModel(withBn = true, seed = 1): MultiTaskModel {
  const model = new MultiTaskModel({
    encoder: toyEncoder(withBn),
    decoder: toyDecoder(),
    classes: 3,
    classificationHead: { dropout: 0 },
  });
  const weights = model.model.getWeights().map((w, i) => {
    if (w.rank < 2) return w;
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return tf.randomNormal(w.shape, 0, Math.sqrt(2 / fanIn), 'float32', seed * 1000 + i);
  });
  model.model.setWeights(weights);
  tf.dispose(weights.filter((w) => w.rank >= 2));
  return model;
}

/** Synthetic ultrasound-like data at 16×16 (dataset tensors are kept for the whole file). */
function syntheticDataset(count: number, seed: number): TrainingDataset {
  const t = syntheticToTensors(generateSynthetic({ size: 16, count, seed, classBalance: [1, 1, 1] }));
  t.oneHot.dispose();
  return tensorDataset(t);
}

/** Records the indices the trainer asks for. */
function spy(data: TrainingDataset): TrainingDataset & { calls: number[][]; contexts: Array<BatchContext | undefined> } {
  const calls: number[][] = [];
  const contexts: Array<BatchContext | undefined> = [];
  return {
    size: data.size,
    calls,
    contexts,
    getBatch: (idx: number[], ctx?: BatchContext) => (calls.push([...idx]), contexts.push(ctx), data.getBatch(idx)),
  };
}

function copyWeights(from: MultiTaskModel, to: MultiTaskModel): void {
  to.model.setWeights(from.model.getWeights());
}

function snapshot(m: MultiTaskModel): Float32Array[] {
  return m.model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

const data16 = syntheticDataset(16, 1);
const data8 = syntheticDataset(8, 4);

test('loss decreases on a learnable toy problem and the tensor count stays flat across steps', async () => {
  const model = toyModel(true);
  const counts: number[] = [];
  const batchLoss: number[] = [];
  const history = await train(model, data16, {
    epochs: 6,
    batchSize: 4,
    seed: 3,
    optimizer: new Adam({ learningRate: 1e-2 }),
    callbacks: [{ onBatchEnd: (_b, logs) => void (counts.push(tf.memory().numTensors), batchLoss.push(logs.loss)) }],
  });
  expect(counts).toHaveLength(24);
  expect(new Set(counts).size).toBe(1);
  const loss = history.history.loss;
  expect(history.epoch).toEqual([0, 1, 2, 3, 4, 5]);
  expect(loss[5]).toBeLessThan(0.85 * loss[0]);
  expect(history.history.segmentation_loss[5]).toBeLessThan(history.history.segmentation_loss[0]);
  expect(history.history.lr).toEqual(new Array(6).fill(1e-2));
  // Epoch loss is the sample-weighted mean of its batches.
  expect(loss[0]).toBeCloseTo(batchLoss.slice(0, 4).reduce((a, b) => a + b) / 4, 6);
  model.dispose();
});

test('accumulating micro-batches gives the gradients of one big batch (model without BatchNorm)', async () => {
  const model = toyModel(false);
  const indices = [5, 0, 9, 12, 3, 7, 14, 1];
  const big = new Trainer(model, { batchSize: 8 });
  const micro = new Trainer(model, { batchSize: 8, microBatchSize: 3 });
  const data = spy(data16);
  const a = await big.computeGradients(data, indices);
  expect(data.calls).toEqual([indices]);
  data.calls.length = 0;
  const b = await micro.computeGradients(data, indices);
  expect(data.calls).toEqual([[5, 0, 9], [12, 3, 7], [14, 1]]);
  expect(Object.keys(b.grads).sort()).toEqual(Object.keys(a.grads).sort());
  expect(Object.keys(a.grads)).toHaveLength(model.trainableVariables().length);
  for (const name of Object.keys(a.grads)) {
    const ga = a.grads[name].dataSync();
    const gb = b.grads[name].dataSync();
    const scale = Math.max(1e-3, ...Array.from(ga, Math.abs));
    for (let i = 0; i < ga.length; i++) expect(Math.abs(ga[i] - gb[i]) / scale).toBeLessThan(1e-4);
  }
  expect(b.logs.loss).toBeCloseTo(a.logs.loss, 5);
  expect(b.logs.segmentation_loss).toBeCloseTo(a.logs.segmentation_loss, 5);
  expect(b.logs.classification_loss).toBeCloseTo(a.logs.classification_loss, 5);
  expect(b.logs.size).toBe(8);
  tf.dispose([a.grads, b.grads]);

  // A full step with accumulation keeps the tensor count flat as well.
  micro.globalStep = 0;
  await micro.trainStep(data16, indices);
  const after1 = tf.memory().numTensors;
  await micro.trainStep(data16, indices);
  await micro.trainStep(data16, indices);
  expect(tf.memory().numTensors).toBe(after1);
  model.dispose();
});

test('clipGradNorm scales the step gradient as torch.nn.utils.clip_grad_norm_ and logs the norm', async () => {
  const model = toyModel(false);
  const idx = [0, 5, 10, 15];
  const probe = new Trainer(model, { batchSize: 4 });
  const { grads } = await probe.computeGradients(data16, idx);
  const norm = Math.sqrt(Object.values(grads).reduce((a, g) => a + tf.sum(tf.square(g)).dataSync()[0], 0));
  for (const [maxNorm, coef] of [
    [norm / 4, norm / 4 / (norm + 1e-6)],
    [norm * 4, 1],
  ]) {
    const vars = model.trainableVariables();
    const before = vars.map((v) => Float32Array.from(v.dataSync()));
    const sgd = tf.train.sgd(1);
    const logs = await new Trainer(model, { batchSize: 4, optimizer: sgd, clipGradNorm: maxNorm }).trainStep(data16, idx);
    expect(logs.grad_norm).toBeCloseTo(norm, 4);
    vars.forEach((v, i) => {
      const step = v.dataSync().map((x, j) => before[i][j] - x);
      const g = grads[v.name].dataSync();
      g.forEach((x, j) => expect(Math.abs(step[j] - coef * x)).toBeLessThan(1e-5 * Math.max(1, norm)));
    });
    // Undo the step so the second case starts from the same weights (and gradients).
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(before[i], v.shape))));
    sgd.dispose();
  }
  tf.dispose(grads);
  expect(() => new Trainer(model, { clipGradNorm: 0 })).toThrow(/clipGradNorm must be > 0/);
  probe.dispose();
  model.dispose();
});

test('seeded shuffling is reproducible, reshuffles every epoch, and dropLast drops the short batch', async () => {
  const data10 = syntheticDataset(10, 2);
  const run = async (seed: number, dropLast: boolean) => {
    const model = toyModel(true);
    const d = spy(data10);
    await new Trainer(model, { epochs: 2, batchSize: 4, seed, dropLast, optimizer: new Adam() }).fit(d);
    model.dispose();
    if (dropLast) expect(d.contexts.map((c) => c && [c.training, c.epoch])).toEqual([[true, 0], [true, 0], [true, 1], [true, 1]]);
    return d.calls;
  };
  const a = await run(7, true);
  const b = await run(7, true);
  const c = await run(8, true);
  expect(a).toEqual(b);
  expect(a).not.toEqual(c);
  expect(a.map((x) => x.length)).toEqual([4, 4, 4, 4]);
  const epoch0 = a.slice(0, 2).flat();
  const epoch1 = a.slice(2).flat();
  expect(new Set(epoch0).size).toBe(8);
  expect(epoch0).not.toEqual(epoch1);
  const kept = await run(7, false);
  expect(kept.map((x) => x.length)).toEqual([4, 4, 2, 4, 4, 2]);
  // Same permutation, the short batch included.
  expect(kept.slice(0, 2)).toEqual(a.slice(0, 2));
  expect(new Set(kept.slice(0, 3).flat()).size).toBe(10);
  expect(batchIndices([0, 1, 2, 3, 4], 2, true)).toEqual([[0, 1], [2, 3]]);
  expect(() => batchIndices([0], 0, false)).toThrow(/positive integer/);
});

describe('callbacks', () => {
  const control = (stop: () => void): TrainingControl => ({ model: undefined as never, optimizer: undefined as never, stop });

  test('EarlyStopping stops after `patience` epochs without improvement (Keras semantics)', () => {
    const stops: number[] = [];
    const es = new EarlyStopping({ monitor: 'val_loss', patience: 2, minDelta: 0.01 });
    expect(es.mode).toBe('min');
    const values = [1.0, 0.8, 0.795, 0.7, 0.71, 0.705];
    values.forEach((v, e) => es.onEpochEnd(e, { val_loss: v }, control(() => stops.push(e))));
    // 0.795 is within minDelta of 0.8 (no improvement, wait 1); 0.7 improves; 0.71, 0.705 → wait 2 → stop.
    expect(stops).toEqual([5]);
    expect(es.best).toBe(0.7);
    expect(es.bestEpoch).toBe(3);
    expect(new EarlyStopping({ monitor: 'val_dice' }).mode).toBe('max');
    expect(() => es.onEpochEnd(6, { loss: 1 }, control(() => undefined))).toThrow(/'val_loss' is not in the epoch logs \(available: loss\)/);
  });

  test('ReduceLROnPlateau multiplies the learning rate after `patience` flat epochs, honouring cooldown and the floor', () => {
    const optimizer = new Adam({ learningRate: 1 });
    const c: TrainingControl = { model: undefined as never, optimizer, stop: () => undefined };
    const r = new ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 2, cooldown: 1, minLearningRate: 0.2 });
    const lrs: number[] = [];
    for (const [e, v] of [1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5].entries()) {
      r.onEpochEnd(e, { loss: v }, c);
      lrs.push(optimizer.learningRate);
    }
    // Epochs 2-3 flat → halve at 3; as in Keras the cooldown epoch (4) ends the cooldown and counts
    // towards patience → halve at 5; again at 7 (0.125, floored to 0.2).
    expect(lrs).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]);
    const copy = new ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 2, cooldown: 1 });
    copy.setState(JSON.parse(JSON.stringify(r.getState())));
    expect(copy.getState()).toEqual(r.getState());
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
  });

  test('EarlyStopping inside fit ends training; restoreBestWeights puts back the best epoch', async () => {
    const model = toyModel(true);
    const weightsAt: Float32Array[][] = [];
    // Loss goes down, so in 'max' mode epoch 0 stays best: stop after epoch 0 + patience.
    const es = new EarlyStopping({ monitor: 'loss', mode: 'max', patience: 2, restoreBestWeights: true });
    const history = await train(model, data16, {
      epochs: 10,
      batchSize: 8,
      optimizer: new Adam({ learningRate: 1e-2 }),
      callbacks: [{ onEpochEnd: () => void weightsAt.push(snapshot(model)) }, es],
    });
    expect(history.epoch).toEqual([0, 1, 2]);
    expect(es.stoppedEpoch).toBe(2);
    expect(maxAbsDiff(snapshot(model), weightsAt[0])).toBe(0);
    expect(maxAbsDiff(weightsAt[2], weightsAt[0])).toBeGreaterThan(0);
    model.dispose();
  });

  test('ModelCheckpoint saves every epoch, or only on improvement, and needs its monitor in the logs', async () => {
    const ck = new ModelCheckpoint({ save: async () => undefined, monitor: 'val_iou', saveBestOnly: true });
    expect(ck.mode).toBe('max');
    const c = control(() => undefined);
    for (const [e, v] of [0.2, 0.5, 0.4, 0.6, 0.6].entries()) await ck.onEpochEnd(e, { val_iou: v }, c);
    expect(ck.savedEpochs).toEqual([0, 1, 3]);

    const model = toyModel(true);
    const saved: Array<[MultiTaskModel, number, Logs]> = [];
    const every = new ModelCheckpoint({ save: async (m, e, logs) => void saved.push([m, e, logs]) });
    const counts: number[] = [];
    const count = { onEpochEnd: () => void counts.push(tf.memory().numTensors) };
    await train(model, data16, { epochs: 3, batchSize: 8, validationData: data16, callbacks: [every, count] });
    expect(saved.map((s) => s[1])).toEqual([0, 1, 2]);
    // Training and validation together leave the tensor count flat from epoch to epoch.
    expect(new Set(counts).size).toBe(1);
    expect(saved[0][0]).toBe(model);
    expect(Object.keys(saved[0][2])).toEqual(
      expect.arrayContaining(['loss', 'segmentation_loss', 'classification_loss', 'val_loss', 'val_segmentation_loss', 'val_classification_loss']),
    );

    const best = new ModelCheckpoint({ save: async () => undefined, saveBestOnly: true });
    await expect(train(model, data16, { epochs: 1, batchSize: 8, callbacks: [best] })).rejects.toThrow(
      /ModelCheckpoint: the monitored quantity 'val_loss' is not in the epoch logs.*need validation data/,
    );
    expect(() => new ModelCheckpoint({} as never)).toThrow(/save\(model, epoch, logs\)/);
    model.dispose();
  });
});

test('validation logs (loss and default metrics), custom metrics, learning-rate schedule and hook order', async () => {
  const model = toyModel(true);
  const events: string[] = [];
  const hooks: TrainingCallback = {
    onTrainBegin: () => void events.push('trainBegin'),
    onEpochBegin: (e) => void events.push(`epochBegin${e}`),
    onBatchEnd: (b) => void events.push(`batch${b}`),
    onEpochEnd: (e) => void events.push(`epochEnd${e}`),
    onTrainEnd: (h) => void events.push(`trainEnd${h.epoch.length}`),
  };
  const val = spy(data16);
  const trainer = new Trainer(model, {
    epochs: 2,
    batchSize: 8,
    validationData: val,
    validationBatchSize: 5,
    learningRateSchedule: (epoch) => 0.01 / (epoch + 1),
    callbacks: [hooks],
  });
  const h = await trainer.fit(data16);
  expect(events).toEqual(['trainBegin', 'epochBegin0', 'batch0', 'batch1', 'epochEnd0', 'epochBegin1', 'batch0', 'batch1', 'epochEnd1', 'trainEnd2']);
  expect(h.history.lr).toEqual([0.01, 0.005]);
  expect(val.calls.map((c) => c.length)).toEqual([5, 5, 5, 1, 5, 5, 5, 1]);
  expect(val.contexts.map((c) => c && [c.training, c.epoch])).toEqual([...new Array(4).fill([false, 0]), ...new Array(4).fill([false, 1])]);
  for (const key of ['val_accuracy', 'val_macro_f1', 'val_iou', 'val_dice']) {
    expect(h.history[key]).toHaveLength(2);
    h.history[key].forEach((v) => expect(v >= 0 && v <= 1).toBe(true));
  }

  // Validation is inference mode: evaluating again on unchanged weights (other batching) gives the same numbers.
  const again = await trainer.evaluate(data16, 16);
  expect(again.loss).toBeCloseTo(h.history.val_loss[1], 5);
  expect(again.segmentation_loss).toBeCloseTo(h.history.val_segmentation_loss[1], 5);
  expect(again.classification_loss).toBeCloseTo(h.history.val_classification_loss[1], 5);
  expect(again.accuracy).toBe(h.history.val_accuracy[1]);
  expect(again.loss).toBeCloseTo(0.7 * again.segmentation_loss + 0.3 * again.classification_loss, 5);
  // The logged accuracy is that of the model's predictions.
  const all = await data16.getBatch(Array.from({ length: 16 }, (_, i) => i));
  const { mask, logits } = model.predict(all.images);
  const predicted = tf.argMax(logits, 1);
  const correct = tf.sum(tf.cast(tf.equal(predicted, tf.cast(all.labels, 'int32')), 'float32')).dataSync()[0];
  expect(again.accuracy).toBeCloseTo(correct / 16, 6);
  tf.dispose([all.images, all.masks, all.labels, mask, logits, predicted]);

  let seen = 0;
  let updates = 0;
  const custom = new Trainer(model, {
    metrics: [{ reset: () => void (seen = updates = 0), update: (out) => void ((seen += out.logits.shape[0]), updates++), result: () => ({ seen }) }],
  });
  const logs = await custom.evaluate(data16, 5);
  expect([logs.seen, updates]).toEqual([16, 4]);
  expect(logs.accuracy).toBeUndefined();
  model.dispose();
});

test('a non-finite loss stops training with an error naming epoch and batch, before any update', async () => {
  const model = toyModel(true);
  const bad: TrainingDataset = {
    size: data16.size,
    getBatch: async (idx) => {
      const b = await data16.getBatch(idx);
      if (!idx.includes(11)) return b;
      const images = tf.mul(b.images, NaN) as tf.Tensor4D;
      b.images.dispose();
      return { ...b, images };
    },
  };
  let before: Float32Array[] = [];
  const trainer = new Trainer(model, {
    epochs: 2,
    batchSize: 4,
    microBatchSize: 2,
    shuffle: false,
    optimizer: new AdamW({ learningRate: 1e-2 }),
    callbacks: [{ onBatchEnd: () => void (before = snapshot(model)) }],
  });
  const numTensors = tf.memory().numTensors;
  const err = await trainer.fit(bad).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NonFiniteLossError);
  expect((err as Error).message).toMatch(/non-finite loss at epoch 0, batch 2 \(micro-batch 2\): loss=NaN/);
  expect((err as NonFiniteLossError).batch).toBe(2);
  // The weights (BatchNorm statistics aside, which the failed forward pass did update) are as after batch 1.
  const names = model.model.weights.map((w) => w.originalName);
  const now = snapshot(model);
  names.forEach((n, i) => {
    if (!/running_/.test(n)) expect(maxAbsDiff([now[i]], [before[i]])).toBe(0);
  });
  // Optimizer slots were created by the earlier steps; nothing else is left behind.
  expect(tf.memory().numTensors).toBe(numTensors + 2 * model.trainableVariables().length);
  model.dispose();
});

test('stop requests (stop() or an AbortSignal) end training after the current batch', async () => {
  const model = toyModel(true);
  const trainer = new Trainer(model, {
    epochs: 3,
    batchSize: 4,
    callbacks: [{ onBatchEnd: (b, _l, c) => void (b === 1 && c.stop()) }],
  });
  const h = await trainer.fit(data16);
  expect(h.epoch).toEqual([]);
  expect([trainer.epoch, trainer.batchInEpoch, trainer.globalStep]).toEqual([0, 2, 2]);

  const ac = new AbortController();
  const t2 = new Trainer(model, { epochs: 3, batchSize: 4, signal: ac.signal, callbacks: [{ onEpochEnd: () => ac.abort() }] });
  expect((await t2.fit(data16)).epoch).toEqual([0]);
  expect([t2.epoch, t2.batchInEpoch]).toEqual([1, 0]);
  expect(() => new Trainer(model, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  expect(() => new Trainer(model, { lambda: 0.5, loss: t2.loss })).toThrow(/either `loss` or `lambda`/);
  // λ has one home, the loss: the default is DEFAULT_LAMBDA; the old `lambda` option still builds that loss, with one warning.
  expect((new Trainer(model).loss as MultiTaskLoss).lambda).toBe(DEFAULT_LAMBDA);
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    expect([0.3, 0.4].map((l) => (new Trainer(model, { lambda: l }).loss as MultiTaskLoss).lambda)).toEqual([0.3, 0.4]);
    expect(warn.mock.calls).toEqual([[expect.stringContaining('Trainer option `lambda` is deprecated; pass `loss: new MultiTaskLoss({ lambda })`')]]);
  } finally {
    warn.mockRestore();
  }
  await expect(new Trainer(model, { batchSize: 32, dropLast: true }).fit(data16)).rejects.toThrow(/leaves no batch from 16 samples/);
  model.dispose();
});

test('an abort from a timer or signal handler (Ctrl-C) is honoured after the batch in progress, not at the end of the epoch', async () => {
  const model = toyModel(true);
  const ac = new AbortController();
  const trainer = new Trainer(model, { epochs: 1, batchSize: 4, signal: ac.signal, validationData: data16 });
  // A macrotask, as a SIGINT handler is: it runs only if the training loop yields to the event loop.
  setTimeout(() => ac.abort(), 0);
  await trainer.fit(data16);
  expect(trainer.epoch).toBe(0);
  expect(trainer.batchInEpoch).toBe(1);
  model.dispose();
});

test('labels outside the model\'s classes and masks outside [0, 1] are errors naming what was expected', async () => {
  const model = toyModel(true);
  const images = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
  const masks = tf.zeros([2, 16, 16, 1]) as tf.Tensor4D;
  const seven = tensorDataset({ images, masks, labels: tf.tensor1d([0, 7], 'int32') });
  await expect(new Trainer(model, { batchSize: 2 }).trainStep(seven, [0, 1])).rejects.toThrow(/labels must be class indices in \[0, 2\] for this 3-class model, got 7/);
  expect(() => tensorDataset({ images, masks, labels: tf.tensor1d([0, -1], 'int32') })).toThrow(/labels\[1\] is -1/);
  const m255 = tf.fill([2, 16, 16, 1], 255) as tf.Tensor4D;
  expect(() => tensorDataset({ images, masks: m255, labels: tf.tensor1d([0, 1], 'int32') })).toThrow(/masks must hold values in \[0, 1\].*divide 0\/255 masks by 255/);
  tf.dispose([images, masks, m255]);
  model.dispose();
});

test('frozen layers (trainable = false) keep their weights; the rest trains', async () => {
  const model = toyModel(true);
  const frozen = model.model.layers.filter((l) => l.name.startsWith('encoder.c'));
  for (const l of frozen) l.trainable = false;
  const before = snapshot(model);
  const names = model.model.weights.map((w) => w.originalName);
  expect(names.filter((n) => /^encoder\.c\d\//.test(n))).toHaveLength(10);
  const trainer = new Trainer(model, { batchSize: 8, optimizer: new AdamW({ learningRate: 1e-2 }) });
  await trainer.trainStep(data16, [0, 1, 2, 3, 4, 5, 6, 7]);
  const after = snapshot(model);
  names.forEach((n, i) => {
    const changed = maxAbsDiff([before[i]], [after[i]]) > 0;
    // Frozen convs stay; every trainable weight moves (AdamW decays even a zero-gradient weight).
    if (/^encoder\.c\d\//.test(n)) expect([n, changed]).toEqual([n, false]);
    else if (!/running_/.test(n)) expect([n, changed]).toEqual([n, true]);
  });
  trainer.dispose();
  model.dispose();
});

test('resume from a mid-epoch state (through encode/decode) continues the uninterrupted trajectory exactly', async () => {
  const opts = () => ({
    epochs: 3,
    batchSize: 3,
    microBatchSize: 2,
    seed: 11,
    validationData: data8,
    optimizer: new Adam({ learningRate: 5e-3, weightDecay: 1e-3 }),
  });
  const reference = toyModel(true);
  const init = reference.model.getWeights().map((w) => w.clone());
  const es = () => new EarlyStopping({ monitor: 'val_loss', patience: 5 });

  const full = new Trainer(reference, { ...opts(), callbacks: [es()] });
  const fullHistory = await full.fit(data8);
  const fullWeights = snapshot(reference);

  // Interrupted run: same start, stopped after batch 0 of epoch 1 (batches of 3, 3, 2; micro-batches 2 + 1), state saved and restored into fresh objects.
  const first = toyModel(true);
  first.model.setWeights(init);
  const t1 = new Trainer(first, {
    ...opts(),
    callbacks: [es(), { onBatchEnd: (b, _l, c) => void (t1.epoch === 1 && b === 0 && c.stop()) }],
  });
  await t1.fit(data8);
  expect([t1.epoch, t1.batchInEpoch, t1.globalStep]).toEqual([1, 1, 4]);
  const state = await t1.getState();
  const encoded = await encodeTrainerState(state);
  tf.dispose(state.optimizerWeights.map((w) => w.tensor));
  const json = JSON.parse(JSON.stringify(encoded.json));
  const weights = first.model.getWeights().map((w) => w.clone());
  first.dispose();

  const second = toyModel(true);
  second.model.setWeights(weights);
  const t2 = new Trainer(second, { ...opts(), callbacks: [es(), {}] });
  const decoded = decodeTrainerState({ json, data: encoded.data });
  await t2.setState(decoded);
  tf.dispose(decoded.optimizerWeights.map((w) => w.tensor));
  expect(t2.optimizer.iterations).toBe(4);
  const resumedHistory = await t2.fit(data8);

  expect(maxAbsDiff(snapshot(second), fullWeights)).toBeLessThan(1e-6);
  expect(resumedHistory.epoch).toEqual([0, 1, 2]);
  for (const key of ['loss', 'val_loss', 'segmentation_loss']) {
    resumedHistory.history[key].forEach((v, i) => expect(v).toBeCloseTo(fullHistory.history[key][i], 5));
  }
  expect((t2.callbacks[0] as EarlyStopping).bestEpoch).toBe((full.callbacks[0] as EarlyStopping).bestEpoch);

  // A mid-epoch state cannot be resumed with other batching or another training set.
  const mid = decodeTrainerState({ json, data: encoded.data });
  for (const [o, d, msg] of [
    [{ batchSize: 4 }, data8, /batchSize was 3, is 4/],
    [{}, data16, /trainSize was 8, is 16/],
  ] as const) {
    const m = toyModel(true);
    const t = new Trainer(m, { ...opts(), ...o, callbacks: [es(), {}] });
    await t.setState(mid);
    await expect(t.fit(d)).rejects.toThrow(msg);
    m.dispose();
  }
  tf.dispose(mid.optimizerWeights.map((w) => w.tensor));

  // A state for another optimizer, or another model, is refused.
  const other = new Trainer(second, { optimizer: new AdamW(), callbacks: [{}, {}] });
  const s2 = await t2.getState();
  await expect(other.setState(s2)).rejects.toThrow(/state is for a BusiAdam optimizer, this trainer has BusiAdamW/);
  const noBn = toyModel(false);
  await expect(new Trainer(noBn, { optimizer: new Adam(), callbacks: [{}, {}] }).setState(s2)).rejects.toThrow(/names no trainable weight/);
  tf.dispose([s2.optimizerWeights.map((w) => w.tensor), init, weights]);
  for (const m of [reference, second, noBn]) m.dispose();
});

describe('verbose: progress printed by fit, as Keras', () => {
  let written: string[];
  let tty: PropertyDescriptor | undefined;
  const setTTY = (value: boolean) => Object.defineProperty(process.stdout, 'isTTY', { value, configurable: true });
  beforeEach(() => {
    written = [];
    tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (written.push(String(s)), true));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
  });
  const fit = async (verbose?: 0 | 1 | 2 | 'auto') => {
    const model = toyModel(true);
    const history = await train(model, data8, { epochs: 2, batchSize: 2, seed: 1, validationData: data8, verbose });
    model.dispose();
    return history;
  };

  test('2 prints one line per epoch with time, every logged loss and metric, as in the history', async () => {
    setTTY(false);
    const history = await fit(2);
    const lines = written.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      expect(line).toMatch(new RegExp(`^Epoch ${i + 1}/2 - \\d+\\.\\ds \\d+ms/step - loss: `));
      for (const key of ['loss', 'segmentation_loss', 'classification_loss', 'lr', 'val_loss', 'val_accuracy', 'val_dice']) {
        const shown = Number(new RegExp(`(?:^| - )${key}: ([^ ]+)`).exec(line)?.[1]);
        expect(shown).toBeCloseTo(history.history[key][i], 3);
      }
    });
  });

  test('1 in a terminal redraws a bar after the batches and closes each epoch with a full bar and the figures', async () => {
    setTTY(true);
    await fit(1);
    const text = written.join('');
    expect(text.startsWith('Epoch 1/2\n')).toBe(true);
    expect(text).toContain('\r1/4 [');
    expect(text).toMatch(/\r\x1b\[K4\/4 \[={30}\] - \d+\.\ds \d+ms\/step - loss: [^\n]+ - val_loss: [^\n]+\nEpoch 2\/2\n/);
    expect(text.split('\n').filter((l) => l.includes('ms/step'))).toHaveLength(2);
  });

  test('1 outside a terminal prints the header and closing line, no carriage returns', async () => {
    setTTY(false);
    await fit(1);
    const text = written.join('');
    expect(text).not.toContain('\r');
    expect(text).toMatch(/^Epoch 1\/2\n4\/4 \[={30}\] - [^\n]+\nEpoch 2\/2\n4\/4 \[={30}\] - [^\n]+\n$/);
  });

  test("the default 'auto' is 1 in a terminal and silent otherwise; 0 is always silent; a bad value is an error", async () => {
    setTTY(false);
    await fit();
    expect(written).toEqual([]);
    setTTY(true);
    await fit(0);
    expect(written).toEqual([]);
    await fit();
    expect(written.join('')).toContain('Epoch 2/2\n');
    const model = toyModel(true);
    expect(() => new Trainer(model, { verbose: 3 as 1 })).toThrow("verbose must be 0, 1, 2 or 'auto', got 3");
    model.dispose();
  });
});
