/** One confidence bin of a reliability diagram. */
export interface CalibrationBin {
  /** Lower edge: the bin covers confidences in (lower, upper] (the first bin includes 0). */
  lower: number;
  /** Upper edge, included in the bin. */
  upper: number;
  /** Samples whose confidence falls in the bin. */
  count: number;
  /** Mean confidence of those samples (NaN when empty). */
  confidence: number;
  /** Fraction of them predicted correctly (NaN when empty). */
  accuracy: number;
}

/** Calibration of a classifier's top-class confidence. */
export interface CalibrationReport {
  /** Expected calibration error Σ_b (n_b / N)·|accuracy_b − confidence_b| (0 when there are no samples). */
  ece: number;
  /** Largest |accuracy_b − confidence_b| over non-empty bins. */
  mce: number;
  /** The bins, for a reliability diagram. */
  bins: CalibrationBin[];
}

/**
 * Expected calibration error of the top-class confidence with `bins` equal-width bins (default 15,
 * the common choice since Guo et al. 2017): each sample's confidence is its largest probability and
 * it is correct when that class (the first one on ties) is its label.
 */
export function calibration(probabilities: readonly ArrayLike<number>[], labels: ArrayLike<number>, bins = 15): CalibrationReport {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`calibration: bins must be a positive integer, got ${bins}`);
  if (probabilities.length !== labels.length) throw new Error(`calibration: ${probabilities.length} probability rows for ${labels.length} labels`);
  const count = new Array<number>(bins).fill(0);
  const confSum = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  probabilities.forEach((row, i) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    const conf = row[best];
    if (!(conf >= 0 && conf <= 1)) throw new Error(`calibration: probability ${conf} of sample ${i} is outside [0, 1]`);
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    count[b]++;
    confSum[b] += conf;
    if (best === labels[i]) correct[b]++;
  });
  const n = probabilities.length;
  let ece = 0;
  let mce = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    const confidence = c ? confSum[b] / c : NaN;
    const accuracy = c ? correct[b] / c : NaN;
    if (c) {
      const gap = Math.abs(accuracy - confidence);
      ece += (c / n) * gap;
      mce = Math.max(mce, gap);
    }
    out.push({ lower: b / bins, upper: (b + 1) / bins, count: c, confidence, accuracy });
  }
  return { ece, mce, bins: out };
}
