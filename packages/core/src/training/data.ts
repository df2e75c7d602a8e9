import * as tf from '@tensorflow/tfjs-core';

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
 * The dataset keeps references to the given tensors and does not dispose them.
 */
export function tensorDataset(data: TrainingBatch): TrainingDataset {
  const n = data.images.shape[0];
  if (data.masks.shape[0] !== n || data.labels.shape[0] !== n) {
    throw new Error(
      `tensorDataset: images, masks and labels must have the same length, got ${n}, ${data.masks.shape[0]}, ${data.labels.shape[0]}`,
    );
  }
  return {
    size: n,
    getBatch(indices: number[]): TrainingBatch {
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
    },
  };
}

/**
 * A small seeded PRNG (mulberry32) whose whole state is one uint32, so a training run's shuffling
 * can be saved and resumed exactly.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The state, for {@link Rng.setState}. */
  get state(): number {
    return this.s;
  }

  setState(state: number): void {
    this.s = state >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
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
