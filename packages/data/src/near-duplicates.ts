import { hammingDistance, verifyPair, type Alignment, type Fingerprint } from './fingerprint';

/** Thresholds of {@link detectNearDuplicates}. */
export interface NearDuplicateOptions {
  /** Candidate pairs: hashes at most this many bits apart (of 63). Default 22. */
  maxHashDistance?: number;
  /** Verified pairs: aligned detail correlation at least this. Default 0.75. */
  minSimilarity?: number;
}

/** The defaults of {@link NearDuplicateOptions}, chosen on synthetic copies of BUSI images (docs/evaluation.md). */
export const NEAR_DUPLICATE_DEFAULTS: Required<NearDuplicateOptions> = { maxHashDistance: 22, minSimilarity: 0.75 };

/** Two images found to be copies of each other. */
export interface DuplicatePair {
  /** Indices into the fingerprint list, a < b. */
  a: number;
  /** The other fingerprint's index (greater than `a`). */
  b: number;
  /** Hash distance in bits. */
  hashDistance: number;
  /** Aligned detail correlation (see `verifyPair`). */
  similarity: number;
  /** Where b sits inside a. */
  alignment: Alignment;
}

/** What {@link detectNearDuplicates} found. */
export interface NearDuplicateMatches {
  /** Verified pairs, by a then b. */
  pairs: DuplicatePair[];
  /** Connected components of the pairs with two or more members (indices ascending), by first member. */
  groups: number[][];
  /** Candidate pairs the verification step looked at. */
  candidates: number;
}

/**
 * Near-duplicate detection over fingerprints: every pair whose perceptual hashes differ in at most
 * `maxHashDistance` bits is verified by aligning and correlating the detail thumbnails, and pairs
 * with similarity ≥ `minSimilarity` are kept; groups are their connected components (a copy of a
 * copy is in the same group).
 */
export function detectNearDuplicates(fingerprints: readonly Fingerprint[], options: NearDuplicateOptions = {}): NearDuplicateMatches {
  const { maxHashDistance, minSimilarity } = { ...NEAR_DUPLICATE_DEFAULTS, ...options };
  const n = fingerprints.length;
  const pairs: DuplicatePair[] = [];
  let candidates = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const d = hammingDistance(fingerprints[a].hash, fingerprints[b].hash);
      if (d > maxHashDistance) continue;
      candidates++;
      const v = verifyPair(fingerprints[a], fingerprints[b]);
      if (v.similarity >= minSimilarity) pairs.push({ a, b, hashDistance: d, similarity: v.similarity, alignment: v.alignment });
    }
  }
  return { pairs, groups: connectedGroups(n, pairs), candidates };
}

/** Connected components (of two or more) of `n` nodes joined by `pairs`. */
export function connectedGroups(n: number, pairs: readonly { a: number; b: number }[]): number[][] {
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const p of pairs) {
    const [ra, rb] = [find(p.a), find(p.b)];
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    byRoot.set(r, [...(byRoot.get(r) ?? []), i]);
  }
  return [...byRoot.values()].filter((g) => g.length > 1).sort((x, y) => x[0] - y[0]);
}
