import { stratifiedSplit, type SplitOptions } from './split';

/** Index lists of a train / validation / test partition. */
export interface ThreeWaySplit {
  /** Samples the model is fitted on. */
  train: number[];
  /** Samples that pick the best epoch (and early stopping): model selection. */
  validation: number[];
  /** Samples only scored at the end: the reported numbers. */
  test: number[];
}

/** Options of {@link threeWaySplit}. */
export interface ThreeWaySplitOptions extends SplitOptions {
  /** Share of all samples in validation. Default 0.1. */
  valFraction?: number;
  /** Share of all samples in test. Default 0.2. */
  testFraction?: number;
}

/**
 * A seeded, stratified and (with `groups`) grouped train / validation / test split: test is held
 * out first (`testFraction` of each class), then validation is taken from the rest so that it is
 * `valFraction` of the whole. Groups never straddle two parts.
 */
export function threeWaySplit(labels: readonly number[], options: ThreeWaySplitOptions = {}): ThreeWaySplit {
  const val = options.valFraction ?? 0.1;
  const test = options.testFraction ?? 0.2;
  if (!(val > 0 && test > 0 && val + test < 1)) {
    throw new Error(`threeWaySplit: valFraction (${val}) and testFraction (${test}) must be positive with a sum below 1`);
  }
  const seed = options.seed ?? 0;
  const outer = stratifiedSplit(labels, { seed, groups: options.groups, trainFraction: 1 - test });
  const rest = outer.train;
  const inner = stratifiedSplit(
    rest.map((i) => labels[i]),
    { seed: seed + 1, groups: options.groups && rest.map((i) => options.groups![i]), trainFraction: 1 - val / (1 - test) },
  );
  const back = (idx: number[]) => idx.map((j) => rest[j]).sort((a, b) => a - b);
  return { train: back(inner.train), validation: back(inner.test), test: outer.test };
}
