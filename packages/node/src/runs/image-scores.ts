import * as tf from '@tensorflow/tfjs-core';
import {
  MultiTaskMetrics,
  surfaceDistances,
  type ClassificationReport,
  type ImageResult,
  type Logs,
  type MultiTaskOutput,
  type PixelSpacing,
  type SegmentationReport,
} from '@busi/core';
import { MultiTaskLoss, DEFAULT_LAMBDA } from '@busi/losses';
import type { SampleDataset } from '@busi/data';
import type { Predictor } from './predictor';

/** Options of {@link scorePredictor}. */
export interface ScoreOptions {
  /** λ of the reported loss. Default 0.7. */
  lambda?: number;
  /** Class names in label order. */
  classNames: readonly string[];
  /** Mask probability threshold. Default 0.5. */
  threshold?: number;
  /** Pixel spacing (mm per pixel of the scored masks) for distances in mm; none: pixels only. */
  spacing?: PixelSpacing;
  /** Images per forward pass. Default 8. */
  batchSize?: number;
}

/** What {@link scorePredictor} measured. */
export interface Scores {
  /** Mean loss and its parts over the images. */
  losses: Logs;
  /** The classification report (as the trainer's validation computes it). */
  classification: ClassificationReport;
  /** The segmentation report at the mask threshold (as the trainer's validation computes it). */
  segmentation: SegmentationReport;
  /** One entry per scored image, in dataset order. */
  images: ImageResult[];
}

/**
 * Runs `predictor` over `dataset` and measures everything per image: class probabilities, pixel
 * counts of the thresholded mask, boundary distances (pixels, and mm with a spacing), plus the
 * multi-task loss and the streaming reports. Tensor count is unchanged afterwards.
 */
export async function scorePredictor(predictor: Predictor, dataset: SampleDataset, options: ScoreOptions): Promise<Scores> {
  const metrics = new MultiTaskMetrics({ classNames: [...options.classNames], threshold: options.threshold });
  const loss = new MultiTaskLoss({ lambda: options.lambda ?? DEFAULT_LAMBDA });
  const threshold = options.threshold ?? 0.5;
  const cut = Math.log(threshold / (1 - threshold));
  const bs = options.batchSize ?? 8;
  const images: ImageResult[] = [];
  let sums = [0, 0, 0];
  for (let start = 0; start < dataset.size; start += bs) {
    const idx = Array.from({ length: Math.min(bs, dataset.size - start) }, (_, j) => start + j);
    const batch = await dataset.getBatch(idx, { training: false, epoch: 0 });
    let out: MultiTaskOutput | null = null;
    try {
      out = predictor.forward(batch.images);
      const o = out;
      const parts = tf.tidy(() => {
        const p = loss.compute(o.mask, batch.masks, o.logits, batch.labels);
        return tf.stack([p.total, p.segmentation, p.classification]);
      });
      const l = await parts.data();
      parts.dispose();
      sums = sums.map((s, k) => s + l[k] * idx.length);
      await metrics.updateAsync(o, batch);
      const [probs, pred, truth, labels] = tf.tidy(() => [tf.softmax(o.logits), tf.greaterEqual(o.mask, cut), tf.greaterEqual(batch.masks, 0.5), batch.labels]);
      const [p, m, t, y] = await Promise.all([probs.data(), pred.data(), truth.data(), labels.data()]);
      tf.dispose([probs, pred, truth]);
      const [, h, w] = batch.masks.shape as number[];
      const c = options.classNames.length;
      for (let j = 0; j < idx.length; j++) {
        const pm = m.subarray(j * h * w, (j + 1) * h * w);
        const tm = t.subarray(j * h * w, (j + 1) * h * w);
        let tp = 0;
        let fp = 0;
        let fn = 0;
        for (let i = 0; i < h * w; i++) {
          if (pm[i] && tm[i]) tp++;
          else if (pm[i]) fp++;
          else if (tm[i]) fn++;
        }
        const label = batch.labels.rank === 2 ? argmaxRow(y, j, c) : y[j];
        images.push({
          label,
          probabilities: Array.from(p.subarray(j * c, (j + 1) * c)),
          counts: { tp, fp, fn, tn: h * w - tp - fp - fn },
          distances: surfaceDistances(tm, pm, h, w),
          ...(options.spacing !== undefined ? { distancesMm: surfaceDistances(tm, pm, h, w, { spacing: options.spacing }) } : {}),
        });
      }
    } finally {
      tf.dispose([batch.images, batch.masks, batch.labels]);
      if (out) tf.dispose([out.mask, out.logits]);
    }
  }
  const n = Math.max(1, dataset.size);
  const report = metrics.report();
  return {
    losses: { loss: sums[0] / n, segmentation_loss: sums[1] / n, classification_loss: sums[2] / n },
    classification: report.classification,
    segmentation: report.segmentation,
    images,
  };
}

function argmaxRow(v: ArrayLike<number>, row: number, c: number): number {
  let best = 0;
  for (let k = 1; k < c; k++) if (v[row * c + k] > v[row * c + best]) best = k;
  return best;
}
