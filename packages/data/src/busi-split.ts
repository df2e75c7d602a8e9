import { findDuplicates, type BusiIndex, type DuplicateReport } from './busi';
import { stratifiedKFold, stratifiedSplit, toSplitFile, type SplitFile, type SplitIndices } from './split';

/** Options of {@link splitBusi}. */
export interface SplitBusiOptions {
  /** 'holdout' (one train/test split) or 'kfold'. Default 'holdout'. */
  kind?: 'holdout' | 'kfold';
  /** Train share of a holdout split. Default 0.8 (the paper's 8:2). */
  trainFraction?: number;
  /** Folds of a k-fold split. Default 5. */
  k?: number;
  /** Seed. Default 0. */
  seed?: number;
  /** Keep pixel-identical images in one part (decodes every image once to hash it). Default true. */
  groupDuplicates?: boolean;
  /** Progress of the duplicate scan. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * A stratified split of a BUSI folder, by default keeping identical images together so that
 * copies cannot sit on both sides. Returns the index parts, the storable {@link SplitFile} and,
 * when duplicates were grouped, the duplicate report.
 */
export async function splitBusi(
  index: BusiIndex,
  options: SplitBusiOptions = {},
): Promise<{ parts: SplitIndices[]; file: SplitFile; duplicates: DuplicateReport | null }> {
  const kind = options.kind ?? 'holdout';
  const seed = options.seed ?? 0;
  const group = options.groupDuplicates ?? true;
  const labels = index.entries.map((e) => e.label);
  const duplicates = group ? await findDuplicates(index, options.onProgress) : null;
  const groups = duplicates?.hashes;
  const parts =
    kind === 'kfold'
      ? stratifiedKFold(labels, options.k ?? 5, { seed, groups })
      : [stratifiedSplit(labels, { seed, groups, trainFraction: options.trainFraction })];
  const file = toSplitFile(
    index.entries.map((e) => e.id),
    parts,
    { kind, seed, groupDuplicates: group },
  );
  return { parts, file, duplicates };
}
