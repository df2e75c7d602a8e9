import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stratifiedKFold } from '../src/folds';
import { stratifiedSplit, toSplitFile, writeSplitFile, readSplitFile } from '../src/split';

// BUSI's class sizes.
const labels = [...Array(437).fill(0), ...Array(210).fill(1), ...Array(133).fill(2)] as number[];
const count = (idx: number[], c: number) => idx.filter((i) => labels[i] === c).length;

test('stratified 8:2 split: per-class ratios, disjoint, complete, seeded', () => {
  const s = stratifiedSplit(labels, { seed: 3 });
  expect([count(s.test, 0), count(s.test, 1), count(s.test, 2)]).toEqual([87, 42, 27]);
  expect(s.train.length + s.test.length).toBe(780);
  expect(new Set([...s.train, ...s.test]).size).toBe(780);
  expect(stratifiedSplit(labels, { seed: 3 })).toEqual(s);
  expect(stratifiedSplit(labels, { seed: 4 }).test).not.toEqual(s.test);
  expect(() => stratifiedSplit(labels, { trainFraction: 1 })).toThrow(/trainFraction/);
});

test('groups stay together in one part', () => {
  // Pairs of samples share a group key (like duplicate images), one pair across classes.
  const groups = labels.map((_, i) => `g${Math.floor(i / 2)}`);
  groups[436] = groups[437] = 'cross';
  const s = stratifiedSplit(labels, { seed: 1, groups });
  const side = new Map<string, Set<string>>();
  s.train.forEach((i) => side.set(groups[i], new Set([...(side.get(groups[i]) ?? []), 'train'])));
  s.test.forEach((i) => side.set(groups[i], new Set([...(side.get(groups[i]) ?? []), 'test'])));
  expect([...side.values()].every((v) => v.size === 1)).toBe(true);
  expect(Math.abs(s.test.length - 156)).toBeLessThanOrEqual(4);
  expect(() => stratifiedSplit(labels, { groups: ['a'] })).toThrow(/1 group keys for 780 samples/);
});

test('stratified k-fold: every sample tested once, classes balanced across folds', () => {
  const folds = stratifiedKFold(labels, 5, { seed: 2 });
  expect(folds).toHaveLength(5);
  const tested = folds.flatMap((f) => f.test).sort((a, b) => a - b);
  expect(tested).toEqual(labels.map((_, i) => i));
  for (const f of folds) {
    expect(f.train.length + f.test.length).toBe(780);
    expect(Math.abs(count(f.test, 0) - 437 / 5)).toBeLessThanOrEqual(1);
    expect(Math.abs(count(f.test, 2) - 133 / 5)).toBeLessThanOrEqual(1);
    const inTest = new Set(f.test);
    expect(f.train.some((i) => inTest.has(i))).toBe(false);
  }
  const groups = labels.map((_, i) => Math.floor(i / 3));
  const gf = stratifiedKFold(labels, 4, { seed: 2, groups });
  for (const f of gf) {
    const g = new Set(f.test.map((i) => groups[i]));
    expect(f.train.some((i) => g.has(groups[i]))).toBe(false);
  }
  expect(() => stratifiedKFold(labels, 1)).toThrow(/k must be/);
});

test('split files round-trip by id and reject unknown or overlapping ids', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-split-'));
  try {
    const ids = labels.map((_, i) => `img (${i})`);
    const parts = stratifiedKFold(labels, 3, { seed: 5 });
    const file = path.join(dir, 'sub', 'split.json');
    writeSplitFile(file, toSplitFile(ids, parts, { kind: 'kfold', seed: 5, groupDuplicates: false }));
    const back = readSplitFile(file, ids);
    expect(back.parts).toEqual(parts);
    expect(back.split.kind).toBe('kfold');
    // Ids, not indices, are stored: reading against a reordered list maps to the new positions.
    const reversed = [...ids].reverse();
    const r = readSplitFile(file, reversed);
    expect(r.parts[0].test.map((i) => reversed[i]).sort()).toEqual(parts[0].test.map((i) => ids[i]).sort());
    expect(() => readSplitFile(file, ids.slice(1))).toThrow(/names 'img \(0\)', which is not in the dataset/);
    const bad = toSplitFile(ids, [{ train: [0, 1], test: [1] }], { kind: 'holdout', seed: 0, groupDuplicates: false });
    writeSplitFile(file, bad);
    expect(() => readSplitFile(file, ids)).toThrow(/'img \(1\)' is in both train and test/);
    fs.writeFileSync(file, '{"x":1}');
    expect(() => readSplitFile(file, ids)).toThrow(/not a busi split file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
