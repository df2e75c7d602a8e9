import type { SplitIndices, SplitOptions } from './split';
import { groupUnits, shuffledByClass } from './split-units';

/**
 * The fold of every sample for a stratified, grouped k-fold: `assignFolds(labels, k)[i]` is the
 * 0-based fold in which sample `i` is held out. This is the single definition of fold membership
 * that `busi cv` (and anything else cross-validating, e.g. sweeps) uses, so the same labels, `k`,
 * seed and groups always give the same folds.
 *
 * - Stratified: each class is spread evenly over the folds (its count per fold differs by at most
 *   the size of its largest group).
 * - Grouped: samples sharing a `groups` key (e.g. near-duplicate images) get the same fold; a group
 *   counts towards the class of its most frequent label.
 * - Seeded: groups are shuffled within each class by `seed`, then dealt biggest first to the fold
 *   with the fewest samples of that class (ties: the smallest fold overall, then the lowest index).
 */
export function assignFolds(labels: readonly number[], k: number, options: SplitOptions = {}): number[] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`assignFolds: k must be an integer >= 2, got ${k}`);
  if (k > labels.length) throw new Error(`assignFolds: k=${k} exceeds the ${labels.length} samples`);
  const fold = new Array<number>(labels.length).fill(-1);
  const foldSize = new Array<number>(k).fill(0);
  for (const list of shuffledByClass(groupUnits(labels, options.groups), options.seed ?? 0).values()) {
    const classCount = new Array<number>(k).fill(0);
    // Big groups first so the small ones can even out the fold sizes (the sort is stable: shuffled order among equals).
    const ordered = [...list].sort((a, b) => b.members.length - a.members.length);
    for (const u of ordered) {
      let best = 0;
      for (let j = 1; j < k; j++) {
        if (classCount[j] < classCount[best] || (classCount[j] === classCount[best] && foldSize[j] < foldSize[best])) best = j;
      }
      for (const i of u.members) fold[i] = best;
      classCount[best] += u.members.length;
      foldSize[best] += u.members.length;
    }
  }
  return fold;
}

/**
 * Seeded stratified k-fold as index lists: fold `j` holds out the samples {@link assignFolds} puts
 * in fold `j` and trains on the others. Every sample is held out exactly once.
 */
export function stratifiedKFold(labels: readonly number[], k = 5, options: SplitOptions = {}): SplitIndices[] {
  const fold = assignFolds(labels, k, options);
  return Array.from({ length: k }, (_, j) => ({
    test: fold.flatMap((f, i) => (f === j ? [i] : [])),
    train: fold.flatMap((f, i) => (f === j ? [] : [i])),
  }));
}
