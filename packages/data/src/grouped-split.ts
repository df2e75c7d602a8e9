import { assignFolds, stratifiedKFold } from './folds';
import { stratifiedSplit, toSplitFile, type SplitFile, type SplitIndices, type SplitMeta } from './split';
import { threeWaySplit } from './three-way';

/** What a grouped split starts from, besides the labels: sample ids, groups and exclusions. */
export interface SampleGroups {
  /** Group key per sample (e.g. `NearDuplicateReport.groupOf`); samples sharing one stay in one part. Default: every sample alone. */
  groupOf?: readonly string[];
  /** Samples left out of every part (e.g. the members of cross-class groups). */
  excluded?: readonly number[];
  /** How the groups were found, for the record. */
  duplicates?: 'near' | 'exact';
}

/** Options of {@link splitSamples}. */
export interface SplitSamplesOptions extends SampleGroups {
  /** 'holdout' (one partition) or 'kfold'. Default 'holdout'. */
  kind?: 'holdout' | 'kfold';
  /** Holdout: with `testFraction`, the validation share of all samples (three-way split). Default 0.1. */
  valFraction?: number;
  /** Holdout: the test share of all samples; 0 or unset gives a two-way train/test split by `trainFraction`. */
  testFraction?: number;
  /** Two-way holdout: the train share. Default 0.8. */
  trainFraction?: number;
  /** K-fold: number of folds. Default 5. */
  k?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/** Index parts (into the full sample list) and the {@link SplitFile} recording them with their groups. */
export interface SampleSplit {
  /** Each fold's parts as sample indices. */
  parts: SplitIndices[];
  /** The same split by sample id, with the grouping recorded, ready to write. */
  file: SplitFile;
}

/** The samples left after `excluded`, and a mapper from their positions back to sample indices. */
function kept(n: number, excluded: readonly number[] | undefined): { idx: number[]; back: (local: number[]) => number[] } {
  const out = new Set(excluded ?? []);
  const idx = Array.from({ length: n }, (_, i) => i).filter((i) => !out.has(i));
  return { idx, back: (local) => local.map((j) => idx[j]).sort((a, b) => a - b) };
}

function meta(kind: SplitFile['kind'], seed: number, g: SampleGroups): SplitMeta {
  return { kind, seed, groupDuplicates: g.groupOf !== undefined, duplicates: g.duplicates, groupOf: g.groupOf, excluded: g.excluded };
}

/**
 * A seeded, stratified split of `labels` that keeps groups whole and leaves `excluded` samples
 * out: a three-way train / validation / test holdout (with `testFraction`), a two-way holdout, or
 * k folds. Returns the parts and the split file, which records the group ids and exclusions.
 */
export function splitSamples(labels: readonly number[], ids: readonly string[], options: SplitSamplesOptions = {}): SampleSplit {
  if (ids.length !== labels.length) throw new Error(`splitSamples: ${ids.length} ids for ${labels.length} labels`);
  const seed = options.seed ?? 0;
  const { idx, back } = kept(labels.length, options.excluded);
  const sub = idx.map((i) => labels[i]);
  const groups = options.groupOf && idx.map((i) => options.groupOf![i]);
  let parts: SplitIndices[];
  if (options.kind === 'kfold') {
    parts = stratifiedKFold(sub, options.k ?? 5, { seed, groups }).map((p) => ({ train: back(p.train), test: back(p.test) }));
  } else if (options.testFraction) {
    const s = threeWaySplit(sub, { seed, groups, valFraction: options.valFraction, testFraction: options.testFraction });
    parts = [{ train: back(s.train), validation: back(s.validation), test: back(s.test) }];
  } else {
    const s = stratifiedSplit(sub, { seed, groups, trainFraction: options.trainFraction });
    parts = [{ train: back(s.train), test: back(s.test) }];
  }
  return { parts, file: toSplitFile(ids, parts, meta(options.kind ?? 'holdout', seed, options)) };
}

/** Options of {@link crossValidationSplit}. */
export interface CrossValidationOptions extends SampleGroups {
  /** Number of folds. Default 5. */
  k?: number;
  /** Share of all samples held out as the common test part (0: none). Default 0.2. */
  testFraction?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/** A cross-validation: the held-out test part, the fold of every other sample, and one split per fold. */
export interface CrossValidationSplit {
  /** Held-out test samples (scored by the ensemble of the fold models). */
  test: number[];
  /** Fold (0-based) of every sample; -1 for test and excluded samples. */
  foldOf: number[];
  /** Fold j: train on the other folds, validate (select) on fold j, test on the held-out part. */
  folds: SampleSplit[];
}

/**
 * Stratified, grouped k-fold cross-validation with a held-out test part: the test part is taken
 * first (grouped, stratified, `testFraction` of the samples), the rest is dealt into `k` folds by
 * {@link assignFolds}. Every fold's split file records its fold index, groups and exclusions.
 */
export function crossValidationSplit(labels: readonly number[], ids: readonly string[], options: CrossValidationOptions = {}): CrossValidationSplit {
  const k = options.k ?? 5;
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction < 1)) throw new Error(`crossValidationSplit: testFraction must lie in [0, 1), got ${testFraction}`);
  const { idx, back } = kept(labels.length, options.excluded);
  const sub = idx.map((i) => labels[i]);
  const groups = options.groupOf && idx.map((i) => options.groupOf![i]);
  const outer = testFraction > 0 ? stratifiedSplit(sub, { seed, groups, trainFraction: 1 - testFraction }) : { train: sub.map((_, j) => j), test: [] };
  const test = back(outer.test);
  const pool = back(outer.train);
  const fold = assignFolds(
    pool.map((i) => labels[i]),
    k,
    { seed: seed + 1, groups: options.groupOf && pool.map((i) => options.groupOf![i]) },
  );
  const foldOf = new Array<number>(labels.length).fill(-1);
  pool.forEach((i, j) => (foldOf[i] = fold[j]));
  const folds = Array.from({ length: k }, (_, j) => {
    const parts: SplitIndices[] = [{ train: pool.filter((i) => foldOf[i] !== j), validation: pool.filter((i) => foldOf[i] === j), test }];
    return { parts, file: toSplitFile(ids, parts, { ...meta('cv', seed, options), fold: j, foldCount: k }) };
  });
  return { test, foldOf, folds };
}
