import { mulberry32 } from '../random/rng';
import { percentile } from './stats';

/** A point estimate with a bootstrap confidence interval. */
export interface ConfidenceInterval {
  /** The statistic on all samples. */
  value: number;
  /** Lower bound: the `(1 - level) / 2` percentile of the resampled statistic. */
  low: number;
  /** Upper bound: the `(1 + level) / 2` percentile of the resampled statistic. */
  high: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Resamples whose statistic was defined (finite); undefined ones (e.g. an AUC without positives) are dropped. */
  resamples: number;
}

/** Options of {@link bootstrapCI}. */
export interface BootstrapOptions {
  /** Number of resamples. Default 1000. */
  resamples?: number;
  /** Confidence level. Default 0.95. */
  level?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
}

/**
 * Resampled index lists for a bootstrap: `resamples` draws of `n` indices in [0, n) with
 * replacement, from a seeded generator (the same seed gives the same draws, so every statistic of
 * one evaluation sees the same resamples and their intervals are comparable).
 */
export function bootstrapIndices(n: number, resamples = 1000, seed = 0): Int32Array[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`bootstrap: need at least one sample, got ${n}`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  const rng = mulberry32(seed);
  return Array.from({ length: resamples }, () => {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
    return idx;
  });
}

/**
 * A percentile bootstrap confidence interval of `statistic` over `n` samples (images): the
 * statistic is computed on `resamples` resamples drawn with replacement, and the interval is their
 * (1 − level)/2 and (1 + level)/2 percentiles. `statistic(indices)` receives the sample indices of
 * one resample (with repeats) or, for the point estimate, 0..n-1.
 * @example
 * ```ts
 * import { bootstrapCI } from '@busi/core';
 * const dice = [0.9, 0.7, 0.8, 0.95];
 * const ci = bootstrapCI(dice.length, (idx) => idx.reduce((s, i) => s + dice[i], 0) / idx.length, { seed: 1 });
 * ci.value; ci.low; ci.high;
 * ```
 */
export function bootstrapCI(n: number, statistic: (indices: ArrayLike<number>) => number, options: BootstrapOptions = {}): ConfidenceInterval {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new Error(`bootstrap: level must lie in (0, 1), got ${level}`);
  return intervalOf(statistic(Int32Array.from({ length: n }, (_, i) => i)), bootstrapIndices(n, options.resamples ?? 1000, options.seed ?? 0).map(statistic), level);
}

/** A {@link ConfidenceInterval} from a point value and the statistic's values on precomputed resamples. */
export function intervalOf(value: number, resampled: readonly number[], level = 0.95): ConfidenceInterval {
  const ok = resampled.filter((x) => Number.isFinite(x));
  const at = (q: number): number => percentile(ok, q * 100);
  return { value, low: at((1 - level) / 2), high: at((1 + level) / 2), level, resamples: ok.length };
}
