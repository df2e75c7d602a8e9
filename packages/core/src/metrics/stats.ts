/** The q-th percentile (0..100) of `values`, linearly interpolated between order statistics (NumPy's default); NaN when empty. */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must lie in [0, 100], got ${q}`);
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Mean of the finite values; NaN when there is none. */
export function meanDefined(values: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      sum += values[i];
      n++;
    }
  }
  return n ? sum / n : NaN;
}

/** Sample standard deviation (n − 1) of the finite values; NaN with fewer than two. */
export function sampleStd(values: ArrayLike<number>): number {
  const ok = Array.from(values).filter((x) => Number.isFinite(x));
  if (ok.length < 2) return NaN;
  const m = ok.reduce((a, b) => a + b, 0) / ok.length;
  return Math.sqrt(ok.reduce((a, b) => a + (b - m) ** 2, 0) / (ok.length - 1));
}
