import * as tf from '@tensorflow/tfjs-core';
import { WASM_HEAP_BUDGET_BYTES, initBackend, requestedBackend, type BackendChoice, type BackendDescription } from '@busi/kernels';
import { releasingVariableGrads } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import type { RunConfig } from './run-config';
import { buildModel } from './train-run';

// How much tensor memory a training step will need, measured rather than tabulated: the model is
// built and stepped at a small size on whatever backend is active, and the step's peak is
// extrapolated in pixels and images. A table per model would go stale with every new layer.

/** The settings of a run that decide a training step's memory. */
export type TrainingMemoryConfig = Pick<RunConfig, 'encoder' | 'decoder' | 'decoderChannels' | 'dropout' | 'classNames' | 'seed' | 'size' | 'batchSize' | 'microBatch'>;

/** A training step's estimated tensor memory and the measurements behind it. */
export interface TrainingMemoryEstimate {
  /** Estimated peak bytes of tensors during one optimizer step at the run's size and micro-batch. */
  bytes: number;
  /** Bytes that do not grow with the input: weights, their gradients and the optimizer's state. */
  fixedBytes: number;
  /** Bytes per image of the forward tape and its backward pass at the run's size. */
  perImageBytes: number;
  /** The square size the probe steps ran at. */
  probeSize: number;
}

/** Probes above this size are scaled from it (a step there is cheap for every paper model). */
export const PROBE_SIZE = 128;

/**
 * Runs with at most this many pixels per micro-batch (64² × 8) fit the wasm heap for every paper
 * model (Unet++ / ResNet-50, the largest per image, needs about 1 GiB there), so they are not
 * probed: the probe builds the model a second time, seconds for a large encoder.
 */
export const UNPROBED_PIXELS = 64 * 64 * 8;

/**
 * Measures one training step's tensor peak at batch 2 and batch 4 (at `PROBE_SIZE`, or the run's
 * size when smaller) on the active backend and extrapolates to the run: the difference is what
 * one image adds, which grows with its pixels; the rest is fixed. Adam's two moments per weight
 * (created by the first real step, not by the probe) and, when micro-batches accumulate, one more
 * copy of the gradients are added. Tensors are freed afterwards (the count is unchanged).
 */
export async function estimateTrainingMemory(config: TrainingMemoryConfig): Promise<TrainingMemoryEstimate> {
  const probeSize = Math.min(config.size, PROBE_SIZE);
  const model = buildModel(config);
  try {
    const vars = model.trainableVariables();
    const loss = new MultiTaskLoss();
    const peak = async (images: number): Promise<number> => {
      const before = tf.memory().numBytes;
      const highest = await peakBytesDuring(() => {
        const x = tf.zeros([images, probeSize, probeSize, 3]) as tf.Tensor4D;
        const masks = tf.zeros([images, probeSize, probeSize, 1]);
        const labels = tf.zeros([images], 'int32');
        // The Trainer's own gradient, so the peak is the one its steps reach.
        const { value, grads } = releasingVariableGrads(() => {
          const out = model.forward(x, true, { seed: config.seed });
          return loss.compute(out.mask, masks, out.logits, labels).total as tf.Scalar;
        }, vars);
        tf.dispose([value, grads, x, masks, labels]);
      });
      return highest - before;
    };
    // Batches of 2 and 4: BatchNorm in training mode needs two values per channel (DeepLabV3+'s
    // image pooling is 1x1), so a batch of one is not a step every model can take.
    const two = await peak(2);
    const four = await peak(4);
    const perProbeImage = Math.max(0, (four - two) / 2);
    const weightBytes = vars.reduce((sum, v) => sum + v.size * 4, 0);
    const optimizerBytes = 2 * weightBytes + (config.microBatch < config.batchSize ? weightBytes : 0);
    const perImageBytes = perProbeImage * (config.size / probeSize) ** 2;
    const fixedBytes = Math.max(0, two - 2 * perProbeImage) + weightBytes + optimizerBytes;
    return { bytes: fixedBytes + perImageBytes * config.microBatch, fixedBytes, perImageBytes, probeSize };
  } finally {
    model.dispose();
  }
}

/** {@link initTrainingBackend}'s answer: the backend chosen, with the estimate that chose it. */
export interface TrainingBackendDescription extends BackendDescription {
  /** The step's estimated memory, when it was probed (automatic choice on wasm, a large run). */
  memory?: TrainingMemoryEstimate;
}

/**
 * The backend for training a run: `requested`, and under 'auto' wasm only where the step fits its
 * heap. When the automatic choice lands on wasm, the step's memory is estimated there and, if it
 * exceeds the heap, the choice is made again with that need (the 'native' backend, whose tensors
 * live in ordinary memory, where its addon is built). The summary says why.
 */
export async function initTrainingBackend(config: TrainingMemoryConfig, requested?: BackendChoice): Promise<TrainingBackendDescription> {
  const first = await initBackend({ backend: requested, log: false });
  const automatic = requestedBackend(requested) === 'auto';
  if (!automatic || first.backend !== 'wasm' || config.size * config.size * config.microBatch <= UNPROBED_PIXELS) return first;
  let memory: TrainingMemoryEstimate;
  try {
    memory = await estimateTrainingMemory(config);
  } catch {
    // A model the probe size does not suit (a decoder that needs larger maps): train on the choice
    // made without the estimate, as before; the run itself reports any real problem.
    return first;
  }
  if (memory.bytes <= WASM_HEAP_BUDGET_BYTES) return { ...first, memory };
  const chosen = await initBackend({ backend: 'auto', log: false, memoryNeedBytes: memory.bytes });
  return { ...chosen, memory };
}

/**
 * The highest `tf.memory().numBytes` while `f` runs (an async `f` should not overlap other tensor work). tf.profile reports the same peak, but its
 * profiler reads every kernel's output back (dataSync) where the backend has no timer, which made
 * a probe of ResNet-18 take 40 s instead of one; so the engine's byte counter is watched directly.
 */
export async function peakBytesDuring(f: () => void | Promise<void>): Promise<number> {
  const state = (tf.engine() as unknown as { state: { numBytes: number } }).state;
  let value = state.numBytes;
  let highest = value;
  Object.defineProperty(state, 'numBytes', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (v: number) => {
      value = v;
      if (v > highest) highest = v;
    },
  });
  try {
    await f();
  } finally {
    delete (state as { numBytes?: number }).numBytes;
    state.numBytes = value;
  }
  return highest;
}
