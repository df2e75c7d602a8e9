/**
 * The automatic backend of a training run: a step's tensor memory is estimated by probing the
 * model at a small size, and a step that would not fit the 4 GiB wasm heap goes to the native
 * backend (when its addon is built) instead of aborting there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, type TrainingDataset } from '@busi/core';
import { initBackend, loadNativeAddon, nativeAddonStatus, WASM_HEAP_BUDGET_BYTES } from '@busi/kernels';
import { buildModel, estimateTrainingMemory, initTrainingBackend, type TrainingMemoryConfig } from '../../src';
import { peakBytesDuring } from '../../src/runs/training-memory';

const run = (over: Partial<TrainingMemoryConfig>): TrainingMemoryConfig => ({
  encoder: 'resnet18', decoder: 'unet', decoderChannels: null, dropout: 0.5, classNames: ['benign', 'malignant', 'normal'],
  seed: 0, size: 128, batchSize: 4, microBatch: 4, ...over,
});

const nativeBuilt = loadNativeAddon() != null;
if (!nativeBuilt) console.log(`training-memory tests that need the native backend skipped: busi native addon ${nativeAddonStatus().reason}`);
const withNative = nativeBuilt ? test : test.skip;

describe('estimateTrainingMemory', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  test('scales what one image adds with its pixels and the micro-batch, and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const small = await estimateTrainingMemory(run({ size: 256, microBatch: 2, batchSize: 2 }));
    const large = await estimateTrainingMemory(run({ size: 512, microBatch: 8, batchSize: 8 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(small.probeSize).toBe(128);
    expect(large.perImageBytes / small.perImageBytes).toBeCloseTo(4, 6);
    expect(large.bytes).toBeCloseTo(large.fixedBytes + 8 * large.perImageBytes, 0);
    // Weights, their gradients and Adam's two moments at the least.
    const model = buildModel(run({}));
    const weightBytes = model.trainableVariables().reduce((s, v) => s + v.size * 4, 0);
    model.dispose();
    expect(small.fixedBytes).toBeGreaterThan(3.5 * weightBytes);
  });

  test("is within 10 % of a real Adam step's tensor peak at the probe size (570 MiB for both here)", async () => {
    const config = run({ size: 128, batchSize: 4, microBatch: 4 });
    const estimate = await estimateTrainingMemory(config);
    const model = buildModel(config);
    const images = tf.randomUniform([4, 128, 128, 3]) as tf.Tensor4D;
    const masks = tf.cast(tf.greater(tf.randomUniform([4, 128, 128, 1]), 0.5), 'float32');
    const labels = tf.tensor1d([0, 1, 2, 0], 'int32');
    const data: TrainingDataset = { size: 4, getBatch: () => ({ images: tf.clone(images) as tf.Tensor4D, masks: tf.clone(masks) as tf.Tensor4D, labels: tf.clone(labels) }) };
    const trainer = new Trainer(model, { batchSize: 4, seed: 0 });
    await trainer.trainStep(data, [0, 1, 2, 3]); // creates Adam's state
    // The step's own peak: the model, Adam's state and what the step allocates, not the test's inputs.
    const inputs = (images.size + masks.size + labels.size) * 4;
    const highest = await peakBytesDuring(() => trainer.trainStep(data, [0, 1, 2, 3]).then(() => undefined));
    const measured = highest - inputs;
    trainer.dispose();
    model.dispose();
    tf.dispose([images, masks, labels]);
    expect(estimate.bytes / measured).toBeGreaterThan(0.9);
    expect(estimate.bytes / measured).toBeLessThan(1.1);
  });
});

describe('the backend a training run gets', () => {
  withNative('initBackend: a need above the wasm budget picks native under auto and says why', async () => {
    const d = await initBackend({ log: false, memoryNeedBytes: 5 * 2 ** 30 });
    expect(d.backend).toBe('native');
    expect(d.summary).toMatch(/ — chosen over wasm: the workload needs about 5\.0 GiB of tensors, more than the wasm heap holds \(4\.0 GiB, 3\.4 GiB usable\)$/);
    expect(d.summary).not.toMatch(/forced/);
    expect(d.skipped).toContainEqual({ backend: 'wasm', reason: expect.stringMatching(/^the workload needs about 5\.0 GiB/) });
  });

  test('initBackend: a need that fits keeps wasm; without native the summary warns', async () => {
    expect((await initBackend({ log: false, memoryNeedBytes: 2 ** 30 })).backend).toBe('wasm');
    const d = await initBackend({ log: false, native: false, memoryNeedBytes: 5 * 2 ** 30 });
    expect(d.backend).toBe('wasm');
    expect(d.summary).toMatch(/ — warning: the workload needs about 5\.0 GiB of tensors, .* and the native backend is unavailable \(native addon turned off\): it may run out of memory/);
    // A forced backend is never second-guessed.
    expect((await initBackend({ backend: 'wasm', log: false, memoryNeedBytes: 5 * 2 ** 30 })).summary).not.toMatch(/warning|chosen over/);
  });

  test('initTrainingBackend: a small run stays on wasm without a probe', async () => {
    const d = await initTrainingBackend(run({ size: 64, batchSize: 8, microBatch: 8 }), 'auto');
    expect(d.backend).toBe('wasm');
    expect(d.memory).toBeUndefined();
  });

  withNative('initTrainingBackend: a step too large for the wasm heap trains on native', async () => {
    const d = await initTrainingBackend(run({ size: 1024, batchSize: 8, microBatch: 8 }), 'auto');
    expect(d.memory!.bytes).toBeGreaterThan(WASM_HEAP_BUDGET_BYTES);
    expect(d.backend).toBe('native');
    expect(d.summary).toMatch(/chosen over wasm/);
    // Micro-batches of one image fit: wasm, with the estimate that says so.
    const fits = await initTrainingBackend(run({ size: 256, batchSize: 8, microBatch: 1 }), 'auto');
    expect(fits.backend).toBe('wasm');
    expect(fits.memory!.bytes).toBeLessThan(WASM_HEAP_BUDGET_BYTES);
  });
});
