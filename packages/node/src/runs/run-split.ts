import * as path from 'node:path';
import { busiSampleGroups, formatNearDuplicateReport, readSplitFile, splitSamples, type SampleGroups, type SplitFile, type SplitIndices } from '@busi/data';
import type { CliContext } from '../cli/args';
import type { LoadedData } from './data';
import { RUN_FILES } from './run-folder';
import type { RunConfig } from './run-config';
import { pluralize } from '@busi/core';

/** The split settings of a run (fields of its config.json; see {@link RunConfig} for their meaning). */
export type RunSplitSettings = Pick<RunConfig, 'seed' | 'valFraction' | 'testFraction' | 'groupDuplicates' | 'duplicates' | 'excludeCrossClass' | 'splitFile' | 'fold'>;

/**
 * The duplicate groups of a run's data (BUSI folders only; synthetic images have no copies), with
 * a one-line summary printed; null when not grouping.
 */
export async function runSampleGroups(settings: RunSplitSettings, data: LoadedData, ctx: CliContext): Promise<SampleGroups | null> {
  if (!data.busi || !settings.groupDuplicates) return null;
  const kind = settings.duplicates ?? 'near';
  ctx.stdout.write(`split: scanning every image for ${kind === 'near' ? 'near-duplicates' : 'identical copies'} to keep them in one part (--no-group-duplicates skips this)\n`);
  const index = { root: '', classNames: data.classNames, entries: [...data.busi.entries] };
  const { groups, report } = await busiSampleGroups(index, { duplicates: kind, excludeCrossClass: settings.excludeCrossClass });
  const summary = 'groupOf' in report ? formatNearDuplicateReport(report).split('\n').slice(0, 2).join('; ') : `${pluralize(report.groups.length, 'group')} of identical images`;
  ctx.stdout.write(`split: ${summary}${groups.excluded?.length ? `; ${pluralize(groups.excluded.length, 'image')} of cross-class groups left out` : ''}\n`);
  return groups;
}

/**
 * A new run's split: the given split file (and fold), else a seeded stratified split of the data,
 * grouped by duplicates by default: train / validation / test with a test fraction, train /
 * validation without. The split file it returns is what the run stores as split.json.
 */
export async function makeRunSplit(
  settings: RunSplitSettings,
  data: LoadedData,
  ctx: CliContext,
): Promise<{
  /** The parts as indices into `data`. */
  split: SplitIndices;
  /** The same parts by sample id, with the settings that made them: the run's split.json. */
  file: SplitFile;
}> {
  if (settings.splitFile) {
    const { split, parts } = readSplitFile(settings.splitFile, data.ids);
    const fold = settings.fold ?? 0;
    if (fold >= parts.length) throw new Error(`--fold ${fold}: split file '${settings.splitFile}' has ${pluralize(parts.length, 'fold')} (0-based)`);
    return { split: parts[fold], file: { ...split, folds: [split.folds[fold]] } };
  }
  const groups = await runSampleGroups(settings, data, ctx);
  const test = settings.testFraction ?? 0;
  const { parts, file } = splitSamples(data.labels, data.ids, {
    ...(groups ?? {}),
    seed: settings.seed,
    ...(test > 0 ? { valFraction: settings.valFraction, testFraction: test } : { trainFraction: 1 - settings.valFraction }),
  });
  return { split: parts[0], file };
}

/** The part of a split that picks the best epoch: validation, or test in a two-way split. */
export function selectionPart(split: SplitIndices): number[] {
  return split.validation ?? split.test;
}

/** The part a finished run is reported on: test in a three-way split, else the validation (= test) part. */
export function reportPart(split: SplitIndices): {
  /** The part's samples, as indices into the data. */
  indices: number[];
  /** What the part is called in reports and titles. */
  name: 'test' | 'validation';
} {
  return split.validation ? { indices: split.test, name: 'test' } : { indices: split.test, name: 'validation' };
}

/** The split stored in a run folder, as indices into `data`. */
export function readRunSplit(dir: string, data: LoadedData): SplitIndices {
  return readSplitFile(path.join(dir, RUN_FILES.split), data.ids).parts[0];
}
