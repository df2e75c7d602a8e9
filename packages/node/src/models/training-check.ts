import * as tf from '@tensorflow/tfjs-core';
import { Adam, MultiTaskModel, Trainer, type TrainingBatch, type TrainingDataset, decoders } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';

/** Options of {@link trainingStepsCheck}. */
export interface TrainingStepsCheckOptions {
  /** Square input size (default 32: the smallest every paper model accepts). */
  size?: number;
  /** Samples per step (default 2; raised to the decoder's minimum training batch). */
  batch?: number;
  /** Optimizer steps (default 3: the tensor count is compared between the last two). */
  steps?: number;
}

/** What {@link trainingStepsCheck} saw. */
export interface TrainingStepsCheckResult {
  /** The loss of every step. */
  losses: number[];
  /** `tf.memory().numTensors` after every step (flat from the second on when nothing leaks). */
  tensorsAfter: number[];
}

/**
 * `count` synthetic samples of `size`² (smooth images, a band as the mask, labels 0, 1, 2, ...),
 * made from JS arrays on each `getBatch` as a dataset read from disk makes them: nothing is read
 * back from the backend synchronously (the webgpu backend cannot, in Node).
 */
export function syntheticDataset(size: number, count: number): TrainingDataset {
  const pixels = size * size;
  return {
    size: count,
    getBatch(indices: number[]): TrainingBatch {
      const n = indices.length;
      const images = new Float32Array(n * pixels * 3).map((_, i) => Math.sin(0.37 * i + indices[Math.floor(i / (pixels * 3))]));
      const masks = new Float32Array(n * pixels).map((_, i) => (i % size > size / 3 && i % size < (2 * size) / 3 ? 1 : 0));
      return {
        images: tf.tensor4d(images, [n, size, size, 3]),
        masks: tf.tensor4d(masks, [n, size, size, 1]),
        labels: tf.tensor1d(indices.map((i) => i % 3), 'int32'),
      };
    },
  };
}

/**
 * A few Adam steps of a freshly built model on synthetic images, masks and labels, on whatever
 * backend is active: proves a training step runs there (every kernel and gradient present) and
 * that it leaves no tensors behind, on {@link syntheticDataset} batches.
 */
export async function trainingStepsCheck(decoder: string, encoder: string, options: TrainingStepsCheckOptions = {}): Promise<TrainingStepsCheckResult> {
  const size = options.size ?? 32;
  const batch = Math.max(options.batch ?? 2, decoders.has(decoder) ? (decoders.info(decoder).minTrainingBatch ?? 1) : 1);
  const steps = options.steps ?? 3;
  const model = new MultiTaskModel({ encoder, decoder, classes: 3 });
  const data = syntheticDataset(size, batch);
  const optimizer = new Adam({ learningRate: 1e-4 });
  const trainer = new Trainer(model, { batchSize: batch, optimizer, shuffle: false });
  const losses: number[] = [];
  const tensorsAfter: number[] = [];
  try {
    const all = Array.from({ length: batch }, (_, i) => i);
    for (let s = 0; s < steps; s++) {
      const logs = await trainer.trainStep(data, all, { epoch: 0, batch: s });
      losses.push(logs.loss);
      tensorsAfter.push(tf.memory().numTensors);
    }
  } finally {
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
  }
  return { losses, tensorsAfter };
}
