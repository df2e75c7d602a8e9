import { meanDefined } from './stats';

/**
 * Threshold-free classification metrics from scores: ROC curve and area, average precision, and
 * their one-vs-rest forms for several classes. Undefined values (a class with no positive or no
 * negative sample) are NaN, and macro means skip them.
 */

/** Points of a ROC curve, from (0, 0) to (1, 1), one per distinct score (ties form one step). */
export interface RocCurve {
  /** False-positive rates, ascending. */
  fpr: number[];
  /** True-positive rates. */
  tpr: number[];
  /** The score threshold of each point (a sample is positive when its score ≥ threshold); Infinity for (0, 0). */
  thresholds: number[];
}

interface Counted {
  /** Cumulative true and false positives after each distinct score, descending. */
  tp: number[];
  fp: number[];
  thresholds: number[];
  positives: number;
  negatives: number;
}

function counted(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): Counted {
  if (scores.length !== positive.length) throw new Error(`ranking metrics: ${scores.length} scores for ${positive.length} labels`);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const tp: number[] = [];
  const fp: number[] = [];
  const thresholds: number[] = [];
  let t = 0;
  let f = 0;
  for (let r = 0; r < order.length; r++) {
    const i = order[r];
    if (!Number.isFinite(scores[i])) throw new Error(`ranking metrics: score ${scores[i]} of sample ${i} is not finite`);
    if (positive[i]) t++;
    else f++;
    // Close a step only after the last sample of a run of equal scores.
    if (r === order.length - 1 || scores[order[r + 1]] !== scores[i]) {
      tp.push(t);
      fp.push(f);
      thresholds.push(scores[i]);
    }
  }
  return { tp, fp, thresholds, positives: t, negatives: f };
}

/** The ROC curve of `scores` for the binary truth `positive`; rates are NaN when a class is absent. */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): RocCurve {
  const c = counted(scores, positive);
  return {
    fpr: [0, ...c.fp.map((x) => x / c.negatives)],
    tpr: [0, ...c.tp.map((x) => x / c.positives)],
    thresholds: [Infinity, ...c.thresholds],
  };
}

/**
 * Area under the ROC curve (trapezoids, so a tie between a positive and a negative counts ½: the
 * Mann–Whitney probability that a random positive outscores a random negative). NaN when there is
 * no positive or no negative sample.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const c = counted(scores, positive);
  if (c.positives === 0 || c.negatives === 0) return NaN;
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < c.tp.length; k++) {
    area += ((c.fp[k] - prevFp) * (c.tp[k] + prevTp)) / 2;
    prevTp = c.tp[k];
    prevFp = c.fp[k];
  }
  return area / (c.positives * c.negatives);
}

/**
 * Average precision, Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score thresholds from high to low (the
 * step-wise area under the precision–recall curve, no interpolation, as scikit-learn computes it).
 * NaN when there is no positive sample.
 */
export function averagePrecision(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const c = counted(scores, positive);
  if (c.positives === 0) return NaN;
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < c.tp.length; k++) {
    const recall = c.tp[k] / c.positives;
    ap += (recall - prevRecall) * (c.tp[k] / (c.tp[k] + c.fp[k]));
    prevRecall = recall;
  }
  return ap;
}

/** One-vs-rest ROC AUC and average precision of every class. */
export interface OneVsRestReport {
  /** ROC AUC of class k against the others (NaN when class k is absent or is every sample). */
  auc: number[];
  /** Average precision of class k against the others (NaN when class k is absent). */
  averagePrecision: number[];
  /** Mean of the defined per-class AUCs (NaN when none is defined). */
  macroAuc: number;
  /** Mean of the defined per-class average precisions. */
  macroAveragePrecision: number;
}

/**
 * Per-class ROC AUC and average precision, each class against the rest, from class probabilities
 * (`probabilities[i][k]`, e.g. softmax outputs) and integer labels.
 */
export function oneVsRest(probabilities: readonly ArrayLike<number>[], labels: ArrayLike<number>, numClasses?: number): OneVsRestReport {
  if (probabilities.length !== labels.length) throw new Error(`oneVsRest: ${probabilities.length} score rows for ${labels.length} labels`);
  const c = numClasses ?? probabilities[0]?.length ?? 0;
  const auc: number[] = [];
  const ap: number[] = [];
  for (let k = 0; k < c; k++) {
    const scores = probabilities.map((row) => row[k]);
    const positive = Array.from(labels, (y) => y === k);
    auc.push(rocAuc(scores, positive));
    ap.push(averagePrecision(scores, positive));
  }
  return { auc, averagePrecision: ap, macroAuc: meanDefined(auc), macroAveragePrecision: meanDefined(ap) };
}
