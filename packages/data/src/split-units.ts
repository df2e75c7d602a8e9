import { mulberry32 } from '@busi/core';

/** Samples that must stay in one part of a split (a group), with the label it is stratified by. */
export interface SplitUnit {
  /** Sample indices of the group. */
  members: number[];
  /** The group's most frequent label. */
  label: number;
}

/** One unit per group key (every sample its own unit without `groups`). */
export function groupUnits(labels: readonly number[], groups: readonly (string | number)[] | undefined): SplitUnit[] {
  if (groups && groups.length !== labels.length) {
    throw new Error(`split: ${groups.length} group keys for ${labels.length} samples`);
  }
  const byKey = new Map<string | number, number[]>();
  labels.forEach((_, i) => {
    const key = groups ? groups[i] : i;
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  return [...byKey.values()].map((members) => {
    const counts = new Map<number, number>();
    for (const i of members) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
    // Most frequent label; ties go to the smallest label so the result does not depend on Map order.
    const label = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    return { members, label };
  });
}

/** Units by label (ascending), each list shuffled by `seed`. */
export function shuffledByClass(all: SplitUnit[], seed: number): Map<number, SplitUnit[]> {
  const rng = mulberry32(seed);
  const map = new Map<number, SplitUnit[]>();
  for (const u of all) map.set(u.label, [...(map.get(u.label) ?? []), u]);
  const sorted = new Map([...map.entries()].sort((a, b) => a[0] - b[0]));
  for (const list of sorted.values()) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
  }
  return sorted;
}

