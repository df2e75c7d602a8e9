import { findDuplicates, type BusiIndex, type DuplicateReport } from './busi';
import { findNearDuplicates, type NearDuplicateReport } from './busi-duplicates';
import { splitSamples, type SampleGroups, type SplitSamplesOptions } from './grouped-split';
import type { SplitFile, SplitIndices } from './split';

/** Options of {@link splitBusi}. */
export interface SplitBusiOptions extends Omit<SplitSamplesOptions, keyof SampleGroups> {
  /** Keep duplicate images in one part (decodes every image once). Default true. */
  groupDuplicates?: boolean;
  /** Which duplicates: 'near' (resized, re-encoded, cropped or marked copies too; {@link findNearDuplicates}) or 'exact' (identical pixels). Default 'near'. */
  duplicates?: 'near' | 'exact';
  /** Leave out every image of a group whose members carry different labels. Default false. */
  excludeCrossClass?: boolean;
  /** Progress of the duplicate scan. */
  onProgress?: (done: number, total: number) => void;
}

/** The duplicate groups of a BUSI index as split inputs: group keys, exclusions, and the report they came from. */
export async function busiSampleGroups(
  index: BusiIndex,
  options: Pick<SplitBusiOptions, 'duplicates' | 'excludeCrossClass' | 'onProgress'> = {},
): Promise<{
  /** Group key per sample and the excluded samples, as `splitSamples` takes them. */
  groups: SampleGroups;
  /** The duplicate search the groups came from (near or exact), for the user's review. */
  report: NearDuplicateReport | DuplicateReport;
}> {
  const kind = options.duplicates ?? 'near';
  const report = kind === 'near' ? await findNearDuplicates(index, { onProgress: options.onProgress }) : await findDuplicates(index, options.onProgress);
  const groupOf = 'groupOf' in report ? report.groupOf : report.hashes;
  let excluded: number[] | undefined;
  if (options.excludeCrossClass) {
    const classes = new Map<string, Set<number>>();
    index.entries.forEach((e, i) => classes.set(groupOf[i], new Set([...(classes.get(groupOf[i]) ?? []), e.label])));
    excluded = index.entries.flatMap((_, i) => ((classes.get(groupOf[i])?.size ?? 1) > 1 ? [i] : []));
  }
  return { groups: { groupOf, excluded, duplicates: kind }, report };
}

/**
 * A stratified split of a BUSI folder, by default keeping near-duplicate images together so that
 * copies cannot sit on both sides: a two-way holdout (`trainFraction`, default 8:2), a three-way
 * train / validation / test holdout (with `testFraction`), or k folds. Returns the index parts,
 * the storable {@link SplitFile} (with the group ids) and the duplicate report (null when not grouped).
 */
export async function splitBusi(
  index: BusiIndex,
  options: SplitBusiOptions = {},
): Promise<{
  /** Each fold's parts as indices into `index.entries`. */
  parts: SplitIndices[];
  /** The same split by sample id, ready for `writeSplitFile`. */
  file: SplitFile;
  /** The duplicate search behind the groups, or null with `groupDuplicates: false`. */
  duplicates: NearDuplicateReport | DuplicateReport | null;
}> {
  const group = options.groupDuplicates ?? true;
  if (options.excludeCrossClass && !group) throw new Error('splitBusi: excludeCrossClass needs groupDuplicates');
  const found = group ? await busiSampleGroups(index, options) : null;
  const { parts, file } = splitSamples(
    index.entries.map((e) => e.label),
    index.entries.map((e) => e.id),
    { ...options, ...(found?.groups ?? {}) },
  );
  return { parts, file, duplicates: found?.report ?? null };
}
