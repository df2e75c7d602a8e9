import * as tf from '@tensorflow/tfjs-core';

/** Binary-mask scores. Each is 1 when both truth and prediction are empty (see {@link scoresFromCounts}). */
export interface SegmentationScores {
  /** Intersection over union TP / (TP + FP + FN) (Jaccard index). */
  iou: number;
  /** Dice coefficient 2·TP / (2·TP + FP + FN). */
  dice: number;
  /** 2·P·R / (P + R) from {@link precision} and {@link recall}: equal to Dice on binary masks, reported as the paper does. */
  f1: number;
  /** TP / (TP + FP). */
  precision: number;
  /** TP / (TP + FN) (sensitivity). */
  recall: number;
  /** (TP + TN) / pixels: pixel accuracy (1 when both masks are empty, like the others). */
  accuracy: number;
}

/** Pixel counts of a thresholded prediction against a truth mask. */
export interface PixelCounts {
  /** Pixels positive in both. */
  tp: number;
  /** Pixels predicted positive, negative in the truth. */
  fp: number;
  /** Pixels positive in the truth, predicted negative. */
  fn: number;
  /** Pixels negative in both. */
  tn: number;
}

/** A segmentation report of plain numbers (JSON-serialisable). */
export interface SegmentationReport {
  /** Scores of each image, averaged over the images ('per image then mean'). */
  perImage: SegmentationScores;
  /** Scores of the counts summed over every pixel of every image ('pooled', 'micro'). */
  pooled: SegmentationScores;
  /** Pixel counts summed over all images. */
  counts: PixelCounts;
  /** Number of images scored. */
  images: number;
  /** Number of images seen whose truth mask is empty (e.g. BUSI 'normal'), scored or not. */
  emptyTruthImages: number;
  /** Probability threshold used. */
  threshold: number;
  /** Each image's scores in input order, when `keepPerImage` is set. */
  imageScores?: SegmentationScores[];
}

/** Options of {@link SegmentationMetricAccumulator} and {@link segmentationMetrics}. */
export interface SegmentationMetricsOptions {
  /** A pixel is predicted positive when its probability is ≥ threshold. Default 0.5. */
  threshold?: number;
  /** Predictions are logits: compared with log(threshold / (1 - threshold)), i.e. sigmoid(x) ≥ threshold. Default false. */
  fromLogits?: boolean;
  /** Also return each image's scores (a few numbers per image). Default false. */
  keepPerImage?: boolean;
  /**
   * Leave images whose truth mask is empty (BUSI 'normal') out of every score, as evaluations on
   * benign + malignant images do; they are still counted in `emptyTruthImages`. Default false.
   */
  excludeEmptyTruth?: boolean;
}

/** A mask batch `[N, H, W, 1]`, `[N, H, W]` or any shape with N first; nested arrays are accepted. */
export type MaskInput = tf.Tensor | tf.TensorLike;

const ratioOr0 = (a: number, b: number): number => (b > 0 ? a / b : 0);

/**
 * Scores of one set of counts. Conventions: when truth and prediction are both empty
 * (TP + FP + FN = 0) every score is 1; otherwise any 0/0 ratio is 0, so a non-empty prediction on
 * an empty truth scores 0 (IoU, Dice, F1, precision and recall) and an empty prediction on a
 * non-empty truth scores 0.
 */
export function scoresFromCounts({ tp, fp, fn, tn }: PixelCounts): SegmentationScores {
  if (tp + fp + fn === 0) return { iou: 1, dice: 1, f1: 1, precision: 1, recall: 1, accuracy: 1 };
  const precision = ratioOr0(tp, tp + fp);
  const recall = ratioOr0(tp, tp + fn);
  return {
    iou: tp / (tp + fp + fn),
    dice: (2 * tp) / (2 * tp + fp + fn),
    f1: ratioOr0(2 * precision * recall, precision + recall),
    precision,
    recall,
    accuracy: (tp + tn) / (tp + fp + fn + tn),
  };
}

const KEYS = ['iou', 'dice', 'f1', 'precision', 'recall', 'accuracy'] as const;
const zeroScores = (): SegmentationScores => ({ iou: 0, dice: 0, f1: 0, precision: 0, recall: 0, accuracy: 0 });

/**
 * Streaming binary-segmentation metrics: feed batches of truth masks and predicted probabilities (or
 * logits with `fromLogits`) with {@link SegmentationMetricAccumulator.update}; only per-image counts
 * reach the CPU and only running sums are kept, so memory does not grow with the dataset (unless
 * `keepPerImage`). The truth is binarised at 0.5 (≥ 0.5 is foreground), so 0/1 and 0/255 masks both work.
 * Both averaging modes are reported: per image then mean, and pooled over all pixels.
 */
export class SegmentationMetricAccumulator {
  /** A pixel is predicted positive when its probability is ≥ threshold. */
  readonly threshold: number;
  /** Whether predictions are logits (compared as sigmoid(x) ≥ threshold). */
  readonly fromLogits: boolean;
  /** Whether {@link SegmentationMetricAccumulator.result} also returns each image's scores. */
  readonly keepPerImage: boolean;
  /** Whether images with an empty truth mask are left out of the scores (still counted). */
  readonly excludeEmptyTruth: boolean;
  private images = 0;
  private emptyTruth = 0;
  private sums = zeroScores();
  private totals: PixelCounts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  private kept: SegmentationScores[] = [];

  constructor(options: SegmentationMetricsOptions = {}) {
    this.threshold = options.threshold ?? 0.5;
    this.fromLogits = options.fromLogits ?? false;
    this.keepPerImage = options.keepPerImage ?? false;
    this.excludeEmptyTruth = options.excludeEmptyTruth ?? false;
    if (!(this.threshold >= 0 && this.threshold <= 1)) {
      throw new Error(`SegmentationMetricAccumulator: threshold must lie in [0, 1], got ${this.threshold}`);
    }
  }

  /** Adds a batch, reading the per-image counts synchronously. Tensors stay owned by the caller. */
  update(truth: MaskInput, prediction: MaskInput): void {
    const counts = this.countTensor(truth, prediction);
    try {
      this.ingest(counts.dataSync(), counts.shape[0]);
    } finally {
      counts.dispose();
    }
  }

  /** Adds a batch, reading the per-image counts asynchronously (preferable on GPU backends). */
  async updateAsync(truth: MaskInput, prediction: MaskInput): Promise<void> {
    const counts = this.countTensor(truth, prediction);
    try {
      this.ingest(await counts.data(), counts.shape[0]);
    } finally {
      counts.dispose();
    }
  }

  /** Forgets every image. */
  reset(): void {
    this.images = 0;
    this.emptyTruth = 0;
    this.sums = zeroScores();
    this.totals = { tp: 0, fp: 0, fn: 0, tn: 0 };
    this.kept = [];
  }

  /** The report over every image added so far (per-image means are 0 when there are none). */
  result(): SegmentationReport {
    const perImage = zeroScores();
    for (const k of KEYS) perImage[k] = ratioOr0(this.sums[k], this.images);
    const report: SegmentationReport = {
      perImage,
      pooled: this.images > 0 ? scoresFromCounts(this.totals) : zeroScores(),
      counts: { ...this.totals },
      images: this.images,
      emptyTruthImages: this.emptyTruth,
      threshold: this.threshold,
    };
    if (this.keepPerImage) report.imageScores = this.kept.map((s) => ({ ...s }));
    return report;
  }

  /** `[N, 4]` int32 counts (tp, fp, fn, tn) per image. */
  private countTensor(truth: MaskInput, prediction: MaskInput): tf.Tensor2D {
    return tf.tidy(() => {
      const t = truth instanceof tf.Tensor ? truth : tf.tensor(truth);
      const p = prediction instanceof tf.Tensor ? prediction : tf.tensor(prediction);
      const n = p.shape[0];
      if (p.rank < 2 || t.shape[0] !== n || t.size !== p.size) {
        throw new Error(
          `SegmentationMetricAccumulator: truth [${t.shape}] and prediction [${p.shape}] must share the batch size and element count`,
        );
      }
      const cut = this.fromLogits ? Math.log(this.threshold / (1 - this.threshold)) : this.threshold;
      const pp = tf.cast(tf.greaterEqual(tf.reshape(p, [n, -1]), cut), 'int32');
      const tt = tf.cast(tf.greaterEqual(tf.reshape(t, [n, -1]), 0.5), 'int32');
      const tp = tf.sum(tf.mul(pp, tt), 1);
      const predPos = tf.sum(pp, 1);
      const truePos = tf.sum(tt, 1);
      const fp = tf.sub(predPos, tp);
      const fn = tf.sub(truePos, tp);
      const pixels = p.size / Math.max(n, 1);
      const tn = tf.sub(tf.sub(tf.sub(tf.scalar(pixels, 'int32'), tp), fp), fn);
      return tf.stack([tp, fp, fn, tn], 1) as tf.Tensor2D;
    });
  }

  private ingest(data: ArrayLike<number>, n: number): void {
    for (let i = 0; i < n; i++) {
      const c: PixelCounts = { tp: data[4 * i], fp: data[4 * i + 1], fn: data[4 * i + 2], tn: data[4 * i + 3] };
      if (c.tp + c.fn === 0) {
        this.emptyTruth += 1;
        if (this.excludeEmptyTruth) continue;
      }
      const s = scoresFromCounts(c);
      for (const k of KEYS) this.sums[k] += s[k];
      this.totals.tp += c.tp;
      this.totals.fp += c.fp;
      this.totals.fn += c.fn;
      this.totals.tn += c.tn;
      if (this.keepPerImage) this.kept.push(s);
      this.images += 1;
    }
  }
}

/**
 * IoU, Dice, F1, precision, recall and pixel accuracy of predicted masks against truth masks, both
 * per image then averaged and pooled over all pixels, with the empty-mask conventions of
 * {@link scoresFromCounts}. `prediction` holds probabilities (or logits with `fromLogits`),
 * thresholded at `threshold` (default 0.5, ≥ is foreground).
 * @example
 * ```ts
 * import { segmentationMetrics } from '@busi/core';
 * const m = segmentationMetrics(masks, probabilities); // threshold 0.5; empty prediction on empty truth scores 1
 * m.perImage.dice; m.pooled.iou;
 * ```
 */
export function segmentationMetrics(
  truth: MaskInput,
  prediction: MaskInput,
  options: SegmentationMetricsOptions = {},
): SegmentationReport {
  const acc = new SegmentationMetricAccumulator(options);
  acc.update(truth, prediction);
  return acc.result();
}
