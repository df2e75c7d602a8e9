import * as tf from '@tensorflow/tfjs-core';
import { readsSynchronously } from '../ops/sync-reads';

/** One batch of training or validation samples. */
export interface TrainingBatch {
  /** Images `[N, H, W, C]`, float. */
  images: tf.Tensor4D;
  /** Tumour masks `[N, H, W, 1]` in {0, 1} (an all-zero mask for 'normal' images). */
  masks: tf.Tensor4D;
  /** Class indices `[N]` (int32; benign / malignant / normal). */
  labels: tf.Tensor1D;
}

/**
 * A random-access dataset. The trainer asks for the samples of one (micro-)batch at a time, so
 * an implementation can read them from disk on demand. The trainer disposes every tensor that
 * `getBatch` returns, so return fresh tensors (e.g. `tf.gather` results), not cached ones.
 */
export interface TrainingDataset {
  /** Number of samples. */
  readonly size: number;
  /**
   * The samples at `indices`, in that order. `context` says whether the batch is for a training
   * step (where to augment) and which epoch, so augmentation can be seeded and a resumed run can
   * repeat it exactly.
   */
  getBatch(indices: number[], context?: BatchContext): TrainingBatch | Promise<TrainingBatch>;
}

/** Why the trainer asks for a batch. */
export interface BatchContext {
  /** True for a training step, false for validation/evaluation. */
  training: boolean;
  /** Epoch of the training step (for evaluation: the epoch just trained, or the trainer's current one). */
  epoch: number;
}

/**
 * An in-memory {@link TrainingDataset} over whole-dataset tensors; `getBatch` gathers rows.
 * The dataset keeps references to the given tensors and does not dispose them. Labels and masks
 * are checked here, or, on a backend that cannot read synchronously (webgpu), by an
 * asynchronous read that the first `getBatch` waits for (it rejects with the same error).
 */
export function tensorDataset(data: TrainingBatch): TrainingDataset {
  const n = data.images.shape[0];
  if (data.masks.shape[0] !== n || data.labels.shape[0] !== n) {
    throw new Error(
      `tensorDataset: images, masks and labels must have the same length, got ${n}, ${data.masks.shape[0]}, ${data.labels.shape[0]}`,
    );
  }
  const range = () => tf.tidy(() => tf.stack([tf.min(data.masks), tf.max(data.masks)]));
  let pending: Promise<void> | null = null;
  if (readsSynchronously()) {
    const r = range();
    const values = r.dataSync();
    r.dispose();
    checkTensorDataset(data.labels.dataSync(), values[0], values[1], n);
  } else {
    pending = (async () => {
      const r = range();
      try {
        const [labels, values] = await Promise.all([data.labels.data(), r.data()]);
        checkTensorDataset(labels, values[0], values[1], n);
      } finally {
        r.dispose();
      }
    })();
    // Rejections surface through getBatch; this keeps an unused dataset from an unhandled one.
    pending.catch(() => undefined);
  }
  const gather = (indices: number[]): TrainingBatch => {
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`tensorDataset: index ${i} out of range [0, ${n})`);
    }
    return tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      return {
        images: tf.gather(data.images, idx) as tf.Tensor4D,
        masks: tf.gather(data.masks, idx) as tf.Tensor4D,
        labels: tf.gather(data.labels, idx) as tf.Tensor1D,
      };
    });
  };
  return {
    size: n,
    getBatch(indices: number[]): TrainingBatch | Promise<TrainingBatch> {
      if (pending == null) return gather(indices);
      return pending.then(() => {
        pending = null;
        return gather(indices);
      });
    },
  };
}

function checkTensorDataset(labels: ArrayLike<number>, lo: number, hi: number, n: number): void {
  const bad = Array.prototype.findIndex.call(labels, (v: number) => !(Number.isInteger(v) && v >= 0));
  if (bad >= 0) throw new Error(`tensorDataset: labels must be class indices (integers >= 0); labels[${bad}] is ${labels[bad]}`);
  if (n > 0 && !(lo >= 0 && hi <= 1)) {
    throw new Error(`tensorDataset: masks must hold values in [0, 1] (1 = lesion), got values from ${lo} to ${hi}${hi === 255 ? ' (divide 0/255 masks by 255)' : ''}`);
  }
}

/**
 * Cuts `order` into consecutive batches of `batchSize`. With `dropLast` a final short batch is
 * dropped (needed where a batch of one cannot train, e.g. DeepLabV3+'s image pooling).
 */
export function batchIndices(order: readonly number[], batchSize: number, dropLast: boolean): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const b = order.slice(i, i + batchSize);
    if (b.length < batchSize && dropLast) break;
    out.push(b);
  }
  return out;
}
