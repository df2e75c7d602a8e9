import * as fs from 'node:fs';
import * as path from 'node:path';
import { previewJson } from '@busi/core';
import { groupUnits, shuffledByClass } from './split-units';

/** Index lists of one partition: train and test, and validation in a three-way split. */
export interface SplitIndices {
  /** Indices of the samples to train on. */
  train: number[];
  /** Model selection; absent in a two-way split (where `test` is used for it). */
  validation?: number[];
  /** Indices held out for the final score (and for model selection when there is no `validation`). */
  test: number[];
}

/** Options shared by {@link stratifiedSplit} and {@link stratifiedKFold}. */
export interface SplitOptions {
  /** Shuffle seed. Default 0. */
  seed?: number;
  /**
   * A group key per sample (e.g. an image hash from `findDuplicates`): samples sharing a key always
   * land in the same part, so identical images cannot leak between train and test. A group is
   * stratified by its most frequent label.
   */
  groups?: readonly (string | number)[];
}

/**
 * A seeded stratified train/test split: each class contributes `trainFraction` of its samples
 * (rounded) to train, the rest to test. With `groups`, whole groups move together.
 */
export function stratifiedSplit(labels: readonly number[], options: SplitOptions & { trainFraction?: number } = {}): SplitIndices {
  const f = options.trainFraction ?? 0.8;
  if (!(f > 0 && f < 1)) throw new Error(`stratifiedSplit: trainFraction must be in (0, 1), got ${f}`);
  const train: number[] = [];
  const test: number[] = [];
  for (const list of shuffledByClass(groupUnits(labels, options.groups), options.seed ?? 0).values()) {
    const total = list.reduce((n, u) => n + u.members.length, 0);
    const wantTest = Math.round(total * (1 - f));
    let inTest = 0;
    for (const u of list) {
      // Greedy: a unit goes to test when that brings the class's test count closer to its target.
      if (Math.abs(inTest + u.members.length - wantTest) < Math.abs(inTest - wantTest)) {
        test.push(...u.members);
        inTest += u.members.length;
      } else train.push(...u.members);
    }
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** One fold of a {@link SplitFile}, by sample id. */
export interface SplitFold {
  /** Ids of the samples to train on. */
  train: string[];
  /** Model selection (best epoch, early stopping); absent in two-way splits, where `test` plays that part. */
  validation?: string[];
  /** Held out: with `validation`, only scored at the end. */
  test: string[];
}

/** A split as stored on disk, by sample id (file stem), so it survives re-listing the folder. */
export interface SplitFile {
  /** Marks the file as a busi split; readers refuse anything else. */
  format: 'busi-split';
  /** Format version, bumped on an incompatible change. */
  version: 1;
  /** 'holdout': one partition; 'kfold': one entry per fold; 'cv': one fold of a cross-validation (see `fold`). */
  kind: 'holdout' | 'kfold' | 'cv';
  /** Shuffle seed the split was drawn with (the same seed and data give the same split). */
  seed: number;
  /** Whether duplicates were kept together. */
  groupDuplicates: boolean;
  /** How duplicates were found: 'near' (near-duplicate detection) or 'exact' (identical pixels). */
  duplicates?: 'near' | 'exact';
  /** Group key of every sample in a group of two or more (id → key); any other sample is its own group. */
  groups?: Record<string, string>;
  /** Ids left out of every part (e.g. cross-class duplicate groups). */
  excluded?: string[];
  /** For kind 'cv': the 0-based fold validated on, and the number of folds. */
  fold?: number;
  /** For kind 'cv': how many folds the cross-validation has. */
  foldCount?: number;
  /** Holdout: one entry; k-fold: one entry per fold. */
  folds: SplitFold[];
}

/** What {@link toSplitFile} records besides the parts. */
export interface SplitMeta {
  /** 'holdout', 'kfold' or 'cv' (see SplitFile.kind). */
  kind: SplitFile['kind'];
  /** Shuffle seed the split was drawn with. */
  seed: number;
  /** Whether duplicates were kept in one part. */
  groupDuplicates: boolean;
  /** How duplicates were found: 'near' or 'exact'. */
  duplicates?: SplitFile['duplicates'];
  /** Group key per sample (parallel to the ids); only groups of two or more are written. */
  groupOf?: readonly string[];
  /** Indices left out. */
  excluded?: readonly number[];
  /** For kind 'cv': the 0-based fold validated on. */
  fold?: number;
  /** For kind 'cv': how many folds there are. */
  foldCount?: number;
}

/** Converts index splits to a {@link SplitFile} using the sample ids. */
export function toSplitFile(ids: readonly string[], parts: SplitIndices[], meta: SplitMeta): SplitFile {
  const { groupOf, excluded, foldCount, ...rest } = meta;
  const byId = (idx: readonly number[]) => idx.map((i) => ids[i]);
  const file: SplitFile = {
    format: 'busi-split',
    version: 1,
    ...rest,
    folds: parts.map((p) => ({ train: byId(p.train), ...(p.validation ? { validation: byId(p.validation) } : {}), test: byId(p.test) })),
  };
  if (foldCount !== undefined) file.foldCount = foldCount;
  if (groupOf) {
    const size = new Map<string, number>();
    for (const g of groupOf) size.set(g, (size.get(g) ?? 0) + 1);
    file.groups = Object.fromEntries(ids.flatMap((id, i) => ((size.get(groupOf[i]) ?? 0) > 1 ? [[id, groupOf[i]]] : [])));
  }
  if (excluded?.length) file.excluded = byId(excluded);
  return file;
}

/** Writes a split JSON file (atomically: temp file then rename). */
export function writeSplitFile(file: string, split: SplitFile): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(split, null, 1)}\n`);
  fs.renameSync(tmp, file);
}

/**
 * Reads a split file and maps its ids back to indices into `ids`. Throws, naming the file, on a
 * wrong format, an unknown id, or an id in two parts (train, validation, test) of one fold.
 */
export function readSplitFile(
  file: string,
  ids: readonly string[],
): {
  /** The file's content as stored (ids). */
  split: SplitFile;
  /** Each fold's parts as indices into `ids`. */
  parts: SplitIndices[];
} {
  let split: SplitFile;
  try {
    split = JSON.parse(fs.readFileSync(file, 'utf8')) as SplitFile;
  } catch (e) {
    throw new Error(`cannot read split file '${file}': ${(e as Error).message}`);
  }
  if (split?.format !== 'busi-split' || !Array.isArray(split.folds)) throw new Error(`'${file}' is not a busi split file`);
  const where = new Map(ids.map((id, i) => [id, i]));
  const parts = split.folds.map((fold, j) => {
    const map = (list: unknown, part: string) => {
      if (!Array.isArray(list)) throw new Error(`split file '${file}': fold ${j} '${part}' is ${list === undefined ? 'missing' : typeof list}, expected a list of image ids`);
      const seen = new Set<number>();
      return list.map((id) => {
        if (typeof id !== 'string') throw new Error(`split file '${file}': fold ${j} '${part}' holds ${previewJson(id)}, expected image id strings`);
        const i = where.get(id);
        if (i === undefined) throw new Error(`split file '${file}': fold ${j} names '${id}', which is not in the dataset`);
        if (seen.has(i)) throw new Error(`split file '${file}': fold ${j} lists '${id}' twice in '${part}' (each image once)`);
        seen.add(i);
        return i;
      });
    };
    if (fold === null || typeof fold !== 'object') throw new Error(`split file '${file}': fold ${j} is not an object with train and test lists`);
    const train = map(fold.train, 'train');
    const test = map(fold.test, 'test');
    const validation = fold.validation ? map(fold.validation, 'validation') : undefined;
    const named: [string, number[]][] = [['train', train], ...(validation ? [['validation', validation] as [string, number[]]] : []), ['test', test]];
    const seen = new Map<number, string>();
    for (const [name, idx] of named) {
      for (const i of idx) {
        const before = seen.get(i);
        if (before) throw new Error(`split file '${file}': '${ids[i]}' is in both ${before} and ${name} of fold ${j}`);
        seen.set(i, name);
      }
    }
    return validation ? { train, validation, test } : { train, test };
  });
  return { split, parts };
}
