import * as fs from 'node:fs';
import * as path from 'node:path';
import { groupUnits, shuffledByClass } from './split-units';

/** Index lists of one train/test partition. */
export interface SplitIndices {
  train: number[];
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

export { assignFolds, stratifiedKFold } from './folds';

/** A split as stored on disk, by sample id (file stem), so it survives re-listing the folder. */
export interface SplitFile {
  format: 'busi-split';
  version: 1;
  kind: 'holdout' | 'kfold';
  seed: number;
  /** Whether identical images were kept together. */
  groupDuplicates: boolean;
  /** Holdout: the train and test ids. K-fold: one entry per fold. */
  folds: { train: string[]; test: string[] }[];
}

/** Converts index splits to a {@link SplitFile} using the sample ids. */
export function toSplitFile(
  ids: readonly string[],
  parts: SplitIndices[],
  meta: { kind: 'holdout' | 'kfold'; seed: number; groupDuplicates: boolean },
): SplitFile {
  return {
    format: 'busi-split',
    version: 1,
    ...meta,
    folds: parts.map((p) => ({ train: p.train.map((i) => ids[i]), test: p.test.map((i) => ids[i]) })),
  };
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
 * wrong format, an unknown id, or an id in both train and test of one fold.
 */
export function readSplitFile(file: string, ids: readonly string[]): { split: SplitFile; parts: SplitIndices[] } {
  let split: SplitFile;
  try {
    split = JSON.parse(fs.readFileSync(file, 'utf8')) as SplitFile;
  } catch (e) {
    throw new Error(`cannot read split file '${file}': ${(e as Error).message}`);
  }
  if (split?.format !== 'busi-split' || !Array.isArray(split.folds)) throw new Error(`'${file}' is not a busi split file`);
  const where = new Map(ids.map((id, i) => [id, i]));
  const parts = split.folds.map((fold, j) => {
    const map = (list: string[]) =>
      list.map((id) => {
        const i = where.get(id);
        if (i === undefined) throw new Error(`split file '${file}': fold ${j} names '${id}', which is not in the dataset`);
        return i;
      });
    const train = map(fold.train);
    const test = map(fold.test);
    const inTrain = new Set(train);
    const both = test.find((i) => inTrain.has(i));
    if (both !== undefined) throw new Error(`split file '${file}': '${ids[both]}' is in both train and test of fold ${j}`);
    return { train, test };
  });
  return { split, parts };
}
