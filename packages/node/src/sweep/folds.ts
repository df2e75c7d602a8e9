import { readBusiFolder, splitBusi, stratifiedKFold, toSplitFile, writeSplitFile, type SplitFile } from '@busi/data';
import { loadData } from '../runs/data';
import type { SweepSpec } from './spec';

/**
 * The k-fold split every task of a sweep shares (fold f of it is task fold f), seeded by the
 * sweep's dataSeed: stratified by class, and for a BUSI folder with train.groupDuplicates, with
 * identical images kept in one fold.
 */
export async function sweepFolds(spec: SweepSpec): Promise<SplitFile> {
  const k = spec.folds;
  const meta = { kind: 'kfold' as const, seed: spec.dataSeed };
  if (spec.train.synthetic !== undefined) {
    // Labels do not depend on the image size: draw them at the smallest one.
    const data = loadData({ kind: 'synthetic', count: spec.train.synthetic as number, seed: spec.dataSeed }, 8);
    return toSplitFile(data.ids, stratifiedKFold(data.labels, k, { seed: spec.dataSeed }), { ...meta, groupDuplicates: false });
  }
  const index = readBusiFolder(spec.train.data as string);
  return (await splitBusi(index, { ...meta, k, groupDuplicates: !!spec.train.groupDuplicates })).file;
}

/** Writes {@link sweepFolds} to `file` (atomically). */
export async function writeFoldsFile(spec: SweepSpec, file: string): Promise<void> {
  writeSplitFile(file, await sweepFolds(spec));
}
