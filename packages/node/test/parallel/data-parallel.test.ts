import * as tf from '@tensorflow/tfjs-core';
import '@busi/decoders';
import { Adam, MultiTaskModel, Trainer, tensorDataset } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { SlimResNetEncoder } from '../../src/demo/slim-resnet';
import { createDataParallel } from '../../src/parallel/data-parallel';

function smallModel(seed?: number, dropout = 0): MultiTaskModel {
  return new MultiTaskModel({
    seed,
    encoder: new SlimResNetEncoder({ widths: [4, 4, 8, 8, 8] }),
    decoder: { name: 'unet', decoderChannels: [8, 8, 4, 4, 4] },
    classes: 3,
    classificationHead: { dropout },
  });
}

/** Largest absolute difference between two gradient maps, and the largest reference value. */
function gradDiff(a: tf.NamedTensorMap, b: tf.NamedTensorMap): { maxErr: number; maxAbs: number } {
  let maxErr = 0;
  let maxAbs = 0;
  for (const name of Object.keys(b)) {
    const x = a[name].dataSync();
    const y = b[name].dataSync();
    for (let i = 0; i < x.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(x[i] - y[i]));
      maxAbs = Math.max(maxAbs, Math.abs(y[i]));
    }
  }
  return { maxErr, maxAbs };
}

function batch(n: number, seed: number) {
  return {
    images: tf.randomNormal([n, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    masks: tf.cast(tf.greater(tf.randomUniform([n, 32, 32, 1], 0, 1, 'float32', seed + 1), 0.6), 'float32') as tf.Tensor4D,
    labels: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'),
  };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('createDataParallel', () => {
  it('2 workers give the single-process gradients of the same shards (BatchNorm in training mode)', async () => {
    const model = smallModel();
    const data = batch(4, 1);
    const dp = await createDataParallel({ model, workers: 2 });
    try {
      expect(dp.workers).toBe(2);
      const { grads, logs } = await dp.computeGradients(data);
      // Same shards as the workers: micro-batches of 2 (each BatchNorm normalises its own shard).
      const trainer = new Trainer(model, { batchSize: 4, microBatchSize: 2 });
      const ref = await trainer.computeGradients(tensorDataset(data), [0, 1, 2, 3]);
      expect(logs.loss).toBeCloseTo(ref.logs.loss, 4);
      expect(logs.segmentation_loss).toBeCloseTo(ref.logs.segmentation_loss, 4);
      expect(Object.keys(grads).sort()).toEqual(Object.keys(ref.grads).sort());
      const { maxErr, maxAbs } = gradDiff(grads, ref.grads);
      expect(maxAbs).toBeGreaterThan(1e-3);
      expect(maxErr).toBeLessThan(1e-4 * Math.max(1, maxAbs));
      tf.dispose([grads, ref.grads]);
      trainer.dispose();
    } finally {
      await dp.dispose();
      tf.dispose(data);
      model.dispose();
    }
  });

  it('runs the Trainer\'s step in each worker: with dropout, the same seeded masks as the Trainer\'s micro-batches', async () => {
    const model = smallModel(5, 0.5);
    const data = batch(4, 7);
    const where = { epoch: 2, batch: 3 };
    const dp = await createDataParallel({ model, workers: 2, seed: 9 });
    try {
      const { grads, logs } = await dp.computeGradients(data, where);
      const trainer = new Trainer(model, { batchSize: 4, microBatchSize: 2, seed: 9 });
      const ref = await trainer.computeGradients(tensorDataset(data), [0, 1, 2, 3], where);
      // Another seed draws other masks: the head's gradient changes, so the comparison can fail.
      const other = new Trainer(model, { batchSize: 4, microBatchSize: 2, seed: 10 });
      const off = await other.computeGradients(tensorDataset(data), [0, 1, 2, 3], where);
      expect(logs.classification_loss).toBeCloseTo(ref.logs.classification_loss, 4);
      const same = gradDiff(grads, ref.grads);
      expect(same.maxErr).toBeLessThan(1e-4 * Math.max(1, same.maxAbs));
      expect(gradDiff(off.grads, ref.grads).maxErr).toBeGreaterThan(1e-3 * same.maxAbs);
      tf.dispose([grads, ref.grads, off.grads]);
      trainer.dispose();
      other.dispose();
    } finally {
      await dp.dispose();
      tf.dispose(data);
      model.dispose();
    }
  });

  it('averages the workers\' BatchNorm running statistics by shard size', async () => {
    // The first BatchNorm sees the stem conv of each image, whatever else is in its shard, so its
    // running mean after one step must be the same with 1 worker (whole batch) as with 2 (halves).
    const model = smallModel();
    const initial = model.model.getWeights().map((w) => tf.clone(w));
    const data = batch(4, 3);
    const runningMeanAfterStep = async (workers: number): Promise<Float32Array> => {
      model.model.setWeights(initial);
      const dp = await createDataParallel({ model, workers });
      try {
        const { grads } = await dp.computeGradients(data);
        tf.dispose(grads);
        const rm = model.model.nonTrainableWeights.find((w) => /running_mean/.test(w.originalName))!;
        return (rm.read().dataSync() as Float32Array).slice();
      } finally {
        await dp.dispose();
      }
    };
    const one = await runningMeanAfterStep(1);
    const two = await runningMeanAfterStep(2);
    tf.dispose([...initial, data]);
    model.dispose();
    expect(Math.max(...one.map(Math.abs))).toBeGreaterThan(1e-3);
    for (let i = 0; i < one.length; i++) expect(Math.abs(two[i] - one[i])).toBeLessThan(1e-5);
  });

  it('trains without leaking tensors in the main thread or the workers, and keeps replicas in sync', async () => {
    // Seeded weights: from some random starts four steps barely move the loss.
    const model = smallModel(11);
    const data = batch(4, 2);
    const optimizer = new Adam({ learningRate: 3e-3 });
    const dp = await createDataParallel({ model, workers: 2 });
    try {
      const losses: number[] = [];
      losses.push((await dp.trainStep(data, optimizer)).loss);
      const before = tf.memory().numTensors;
      const workersBefore = dp.workerTensors();
      for (let s = 0; s < 3; s++) losses.push((await dp.trainStep(data, optimizer)).loss);
      expect(tf.memory().numTensors).toBe(before);
      expect(dp.workerTensors()).toEqual(workersBefore);
      expect(losses[3]).toBeLessThan(0.95 * losses[0]);
      // After syncWeights the replicas compute with the main weights: the next gradients equal the
      // single-process ones at the updated weights.
      const { grads } = await dp.computeGradients(data);
      const trainer = new Trainer(model, { batchSize: 4, microBatchSize: 2 });
      const ref = await trainer.computeGradients(tensorDataset(data), [0, 1, 2, 3]);
      const name = Object.keys(ref.grads)[0];
      const a = grads[name].dataSync();
      const b = ref.grads[name].dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
      tf.dispose([grads, ref.grads]);
      trainer.dispose();
    } finally {
      await dp.dispose();
      optimizer.dispose();
      tf.dispose(data);
      model.dispose();
    }
  });

  it('terminates its workers on dispose, then rejects calls; refuses bad arguments', async () => {
    const model = smallModel();
    await expect(createDataParallel({ model, workers: 0 })).rejects.toThrow(/positive integer/);
    const dp = await createDataParallel({ model, workers: 2 });
    expect(dp.runningWorkers()).toBe(2);
    await dp.dispose();
    expect(dp.runningWorkers()).toBe(0);
    const data = batch(2, 3);
    await expect(dp.computeGradients(data)).rejects.toThrow();
    tf.dispose(data);
    model.dispose();
  });
});
