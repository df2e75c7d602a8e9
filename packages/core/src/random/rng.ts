/**
 * busi's one pseudo-random generator and its one seed mixer. Every seeded draw in busi (synthetic
 * data, splits, shuffling, augmentation, weight initialisation, dropout masks, the parity fill)
 * goes through these, so a seed fixes a run without touching any global such as `Math.random`.
 */

// A local alias: a global lookup per call is ~10x slower in sandboxed contexts (jest's vm), and the
// parity fill draws millions of values.
const imul = Math.imul;

/**
 * mulberry32, a small seeded PRNG whose whole state is one uint32, so a training run's shuffling
 * can be saved and resumed exactly.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The state, for {@link Rng.setState}. */
  get state(): number {
    return this.s;
  }

  /** Restores a state read from {@link Rng.state}. */
  setState(state: number): void {
    this.s = state >>> 0;
  }

  /** The next raw 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/** A function drawing floats in [0, 1) from a fresh {@link Rng} seeded with `seed`. */
export function mulberry32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

/**
 * A seed derived from `seed` and a path of integers (e.g. epoch, batch, sample): equal inputs give
 * equal seeds, and a draw keyed this way does not depend on how many draws came before it (a
 * resumed run repeats it). Each value is folded in with a golden-ratio multiply and a 32-bit
 * avalanche finaliser.
 */
export function mixSeed(seed: number, ...path: number[]): number {
  let h = seed >>> 0;
  for (const v of path) {
    let z = (imul(h, 0x9e3779b1) + imul((v >>> 0) + 1, 0x85ebca6b)) >>> 0;
    z = imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
    z = imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
    h = (z ^ (z >>> 16)) >>> 0;
  }
  return h;
}

const utf8 = new TextEncoder();

/** 32-bit FNV-1a hash of a string's UTF-8 bytes (turns a weight or layer name into a seed path). */
export function fnv1a32(text: string): number {
  let h = 2166136261;
  for (const byte of utf8.encode(text)) h = imul(h ^ byte, 16777619) >>> 0;
  return h >>> 0;
}
