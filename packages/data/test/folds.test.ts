import { assignFolds, stratifiedKFold } from '../src/folds';
import { threeWaySplit } from '../src/three-way';

// BUSI's class sizes.
const labels = [...Array(437).fill(0), ...Array(210).fill(1), ...Array(133).fill(2)] as number[];
const count = (idx: number[], c: number) => idx.filter((i) => labels[i] === c).length;

test('assignFolds: one fold per sample, stratified, grouped, seeded, and the same folds as stratifiedKFold', () => {
  const groups = labels.map((c, i) => `${c}-${Math.floor(i / 3)}`); // groups of up to 3, within a class
  const fold = assignFolds(labels, 5, { seed: 7, groups });
  expect(fold).toHaveLength(780);
  expect(new Set(fold)).toEqual(new Set([0, 1, 2, 3, 4]));
  // a group never spans two folds
  const foldOf = new Map<string, Set<number>>();
  fold.forEach((f, i) => foldOf.set(groups[i], new Set([...(foldOf.get(groups[i]) ?? []), f])));
  expect([...foldOf.values()].every((s) => s.size === 1)).toBe(true);
  // each class within one group size (3) of an even spread
  for (let c = 0; c < 3; c++) {
    const per = [0, 1, 2, 3, 4].map((j) => fold.filter((f, i) => f === j && labels[i] === c).length);
    expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(3);
  }
  expect(assignFolds(labels, 5, { seed: 7, groups })).toEqual(fold);
  expect(assignFolds(labels, 5, { seed: 8, groups })).not.toEqual(fold);
  const parts = stratifiedKFold(labels, 5, { seed: 7, groups });
  parts.forEach((p, j) => expect(p.test).toEqual(fold.flatMap((f, i) => (f === j ? [i] : []))));
  expect(() => assignFolds(labels, 1)).toThrow(/k must be an integer >= 2/);
  expect(() => assignFolds([0, 1], 3)).toThrow(/exceeds the 2 samples/);
});

test('threeWaySplit: disjoint, complete, stratified shares, groups kept whole', () => {
  const groups = labels.map((_, i) => `g${Math.floor(i / 2)}`);
  const s = threeWaySplit(labels, { seed: 3, valFraction: 0.1, testFraction: 0.2, groups });
  const all = [...s.train, ...s.validation, ...s.test].sort((a, b) => a - b);
  expect(all).toEqual(labels.map((_, i) => i));
  expect(Math.abs(count(s.test, 0) - 87)).toBeLessThanOrEqual(2);
  expect(Math.abs(count(s.validation, 1) - 21)).toBeLessThanOrEqual(2);
  expect(Math.abs(s.validation.length - 78)).toBeLessThanOrEqual(4);
  const part = new Map<string, Set<string>>();
  for (const [name, idx] of Object.entries(s)) for (const i of idx as number[]) part.set(groups[i], new Set([...(part.get(groups[i]) ?? []), name]));
  expect([...part.values()].every((p) => p.size === 1)).toBe(true);
  expect(threeWaySplit(labels, { seed: 3, valFraction: 0.1, testFraction: 0.2, groups })).toEqual(s);
  expect(() => threeWaySplit(labels, { valFraction: 0.5, testFraction: 0.5 })).toThrow(/sum below 1/);
});
