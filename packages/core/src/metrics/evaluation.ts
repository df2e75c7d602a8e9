import { bootstrapIndices, intervalOf, type ConfidenceInterval } from './bootstrap';
import { calibration, type CalibrationReport } from './calibration';
import { classificationMetrics } from './classification';
import { oneVsRest, rocCurve, type RocCurve } from './ranking';
import { scoresFromCounts, type PixelCounts } from './segmentation';
import { meanDefined } from './stats';
import type { SurfaceDistances } from './surface-distance';

/** What one scored image contributes: its truth, the predicted class probabilities, mask counts and boundary distances. */
export interface ImageResult {
  /** True class index. */
  label: number;
  /** Predicted class probabilities (they sum to 1). */
  probabilities: ArrayLike<number>;
  /** Pixel counts of the thresholded mask against the truth. */
  counts: PixelCounts;
  /** Boundary distances in pixels. */
  distances: SurfaceDistances;
  /** The same in physical units, when a spacing is known. */
  distancesMm?: SurfaceDistances;
}

/** Options of {@link evaluationMetrics}. */
export interface EvaluationMetricsOptions {
  /** Class names in label order. */
  classNames: readonly string[];
  /** Bootstrap resamples for the confidence intervals. Default 1000. */
  resamples?: number;
  /** Confidence level. Default 0.95. */
  level?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
  /** Bins of the expected calibration error. Default 15. */
  calibrationBins?: number;
}

/** Every number an evaluation reports, with its confidence interval where it is a headline. */
export interface EvaluationMetrics {
  /** Images scored. */
  images: number;
  /** Class names in label order, as given in the options; they name the per-class entries. */
  classNames: string[];
  /**
   * Headline numbers with percentile-bootstrap intervals over images (at `bootstrap.level`, 95 % by default): `dice`, `iou` (per image,
   * then mean, over all images), `hd95`, `asd` (pixels; mean over images where truth and prediction
   * both have a lesion), `hd95_mm`, `asd_mm` (with a spacing), `accuracy`, `macro_f1`, `macro_auc`,
   * `macro_ap`, `ece`, and `auc_<class>`, `ap_<class>` per class.
   */
  headline: Record<string, ConfidenceInterval>;
  /** One-vs-rest ROC curve of each class (for the plot). */
  roc: Record<string, RocCurve>;
  /** The calibration bins (for the reliability diagram) and ECE/MCE on all images. */
  calibration: CalibrationReport;
  /** How many images the distance means could not use, and why. */
  distanceCoverage: {
    /** Truth and prediction both non-empty: in the HD95 and ASD means. */
    measured: number;
    /** Truth has a lesion, the prediction is empty (a missed lesion). */
    missed: number;
    /** Truth is empty (normal), the prediction is not (a false lesion). */
    falseLesion: number;
    /** Both empty (a correct normal). */
    bothEmpty: number;
  };
  /** The bootstrap's settings, defaults filled in, so the intervals can be reproduced. */
  bootstrap: {
    /** Resamples drawn (each interval's own `resamples` counts those where its statistic was defined). */
    resamples: number;
    /** Confidence level of every interval, e.g. 0.95. */
    level: number;
    /** Seed of the resampling. */
    seed: number;
  };
}

type Statistic = (idx: ArrayLike<number>) => number;

/**
 * Builds the headline metrics of an evaluation from per-image results, with a percentile bootstrap
 * over images (one set of resamples shared by every statistic). Pure: no tensors.
 */
export function evaluationMetrics(results: readonly ImageResult[], options: EvaluationMetricsOptions): EvaluationMetrics {
  const n = results.length;
  if (n === 0) throw new Error('evaluationMetrics: no images');
  const names = [...options.classNames];
  const c = names.length;
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 1000;
  const seed = options.seed ?? 0;
  const bins = options.calibrationBins ?? 15;
  const labels = results.map((r) => r.label);
  const probs = results.map((r) => r.probabilities);
  const predicted = probs.map((p) => {
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    return best;
  });
  const seg = results.map((r) => scoresFromCounts(r.counts));
  const both = results.map((r) => r.counts.tp + r.counts.fn > 0 && r.counts.tp + r.counts.fp > 0);
  const pick = <T>(arr: readonly T[], idx: ArrayLike<number>): T[] => Array.from(idx, (i) => arr[i]);
  const meanOf = (values: readonly number[], mask?: readonly boolean[]): Statistic => (idx) =>
    meanDefined(Array.from(idx, (i) => (mask && !mask[i] ? NaN : values[i])));

  const stats: Record<string, Statistic> = {
    dice: meanOf(seg.map((s) => s.dice)),
    iou: meanOf(seg.map((s) => s.iou)),
    hd95: meanOf(results.map((r) => r.distances.hd95), both),
    asd: meanOf(results.map((r) => r.distances.asd), both),
  };
  if (results.every((r) => r.distancesMm)) {
    stats.hd95_mm = meanOf(results.map((r) => r.distancesMm!.hd95), both);
    stats.asd_mm = meanOf(results.map((r) => r.distancesMm!.asd), both);
  }
  stats.accuracy = (idx) => meanDefined(Array.from(idx, (i) => (predicted[i] === labels[i] ? 1 : 0)));
  stats.macro_f1 = (idx) => classificationMetrics(pick(labels, idx), pick(predicted, idx), { numClasses: c }).macroF1;
  const ovr = (idx: ArrayLike<number>) => oneVsRest(pick(probs, idx), pick(labels, idx), c);
  // One-vs-rest figures share one computation per resample.
  const cache = new WeakMap<object, ReturnType<typeof ovr>>();
  const ovrOf = (idx: ArrayLike<number>) => {
    const key = idx as object;
    let r = cache.get(key);
    if (!r) cache.set(key, (r = ovr(idx)));
    return r;
  };
  stats.macro_auc = (idx) => ovrOf(idx).macroAuc;
  stats.macro_ap = (idx) => ovrOf(idx).macroAveragePrecision;
  stats.ece = (idx) => calibration(pick(probs, idx), pick(labels, idx), bins).ece;
  names.forEach((name, k) => {
    stats[`auc_${name}`] = (idx) => ovrOf(idx).auc[k];
    stats[`ap_${name}`] = (idx) => ovrOf(idx).averagePrecision[k];
  });

  const all = Int32Array.from({ length: n }, (_, i) => i);
  const draws = bootstrapIndices(n, resamples, seed);
  const headline: Record<string, ConfidenceInterval> = {};
  for (const [key, f] of Object.entries(stats)) headline[key] = intervalOf(f(all), draws.map(f), level);

  const roc: Record<string, RocCurve> = {};
  names.forEach((name, k) => {
    roc[name] = rocCurve(probs.map((p) => p[k]), labels.map((y) => y === k));
  });
  const truthHas = results.map((r) => r.counts.tp + r.counts.fn > 0);
  const predHas = results.map((r) => r.counts.tp + r.counts.fp > 0);
  return {
    images: n,
    classNames: names,
    headline,
    roc,
    calibration: calibration(probs, labels, bins),
    distanceCoverage: {
      measured: both.filter(Boolean).length,
      missed: truthHas.filter((t, i) => t && !predHas[i]).length,
      falseLesion: truthHas.filter((t, i) => !t && predHas[i]).length,
      bothEmpty: truthHas.filter((t, i) => !t && !predHas[i]).length,
    },
    bootstrap: { resamples, level, seed },
  };
}
