import type { RawImage } from './io/png';

/**
 * Image fingerprints for near-duplicate detection: a 63-bit DCT perceptual hash (cheap to compare,
 * finds candidate pairs) and a 64×64 gray thumbnail (the verification step aligns two thumbnails and
 * correlates them). Both are computed by area averaging, so they do not depend on how an image
 * was resized, and in plain JS, so they do not depend on the image library's version.
 */

/** Side of the verification thumbnail. */
export const THUMB_SIZE = 64;
const HASH_SIZE = 32;
const HASH_BITS = 8;

/** What near-duplicate detection keeps of one image. */
export interface Fingerprint {
  /** Perceptual hash: 63 bits as [high, low] 32-bit words (bit set: DCT coefficient above the median). */
  hash: [number, number];
  /** Gray THUMB_SIZE² thumbnail in [0, 255], row-major: its broad correlation peak finds the alignment. */
  thumb: Float32Array;
  /** Its detail layer ({@link detailLayer}): correlated once aligned, it tells copies from look-alikes. */
  detail: Float32Array;
  /** Height of the source image, in pixels. */
  height: number;
  /** Width of the source image, in pixels (with `height`: aspect checks before alignment). */
  width: number;
}

/** Area-averaged resize of a one-channel float image to `h`×`w` (every source pixel weighted by its overlap). */
export function areaResize(src: ArrayLike<number>, sh: number, sw: number, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  const fy = sh / h;
  const fx = sw / w;
  for (let y = 0; y < h; y++) {
    const y0 = y * fy;
    const y1 = y0 + fy;
    for (let x = 0; x < w; x++) {
      const x0 = x * fx;
      const x1 = x0 + fx;
      let sum = 0;
      for (let v = Math.floor(y0); v < Math.min(sh, Math.ceil(y1)); v++) {
        const wy = Math.min(y1, v + 1) - Math.max(y0, v);
        let row = 0;
        for (let u = Math.floor(x0); u < Math.min(sw, Math.ceil(x1)); u++) row += (Math.min(x1, u + 1) - Math.max(x0, u)) * src[v * sw + u];
        sum += wy * row;
      }
      out[y * w + x] = sum / (fy * fx);
    }
  }
  return out;
}

/** Gray values (mean of R, G, B; alpha ignored) of an 8-bit image. */
export function grayOf(img: RawImage): Float32Array {
  const n = img.height * img.width;
  const c = img.channels;
  const colour = c === 2 || c === 4 ? c - 1 : c;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (colour === 1) out[i] = img.data[i * c];
    else out[i] = (img.data[i * c] + img.data[i * c + 1] + img.data[i * c + 2]) / 3;
  }
  return out;
}

const COS: Float64Array = (() => {
  const t = new Float64Array(HASH_BITS * HASH_SIZE);
  for (let k = 0; k < HASH_BITS; k++) for (let n = 0; n < HASH_SIZE; n++) t[k * HASH_SIZE + n] = Math.cos((Math.PI * (2 * n + 1) * k) / (2 * HASH_SIZE));
  return t;
})();

/** The 63-bit DCT hash of a 32×32 gray image: the 8×8 lowest frequencies but the DC term, against their median. */
function dctHash(g: Float32Array): [number, number] {
  const rows = new Float64Array(HASH_SIZE * HASH_BITS);
  for (let y = 0; y < HASH_SIZE; y++) {
    for (let k = 0; k < HASH_BITS; k++) {
      let s = 0;
      for (let x = 0; x < HASH_SIZE; x++) s += g[y * HASH_SIZE + x] * COS[k * HASH_SIZE + x];
      rows[y * HASH_BITS + k] = s;
    }
  }
  const coef: number[] = [];
  for (let j = 0; j < HASH_BITS; j++) {
    for (let k = 0; k < HASH_BITS; k++) {
      if (j === 0 && k === 0) continue;
      let s = 0;
      for (let y = 0; y < HASH_SIZE; y++) s += rows[y * HASH_BITS + k] * COS[j * HASH_SIZE + y];
      coef.push(s);
    }
  }
  const median = [...coef].sort((a, b) => a - b)[coef.length >> 1];
  let hi = 0;
  let lo = 0;
  coef.forEach((v, i) => {
    if (v <= median) return;
    if (i < 32) lo |= 1 << i;
    else hi |= 1 << (i - 32);
  });
  return [hi >>> 0, lo >>> 0];
}

/** Separable Gaussian blur of a square `s`×`s` image (edges clamped). */
function blur(src: Float32Array, s: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const norm = k.reduce((a, b) => a + b, 0);
  const tmp = new Float32Array(s * s);
  const out = new Float32Array(s * s);
  const clamp = (v: number) => Math.min(s - 1, Math.max(0, v));
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * src[y * s + clamp(x + i)];
      tmp[y * s + x] = acc / norm;
    }
  }
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * tmp[clamp(y + i) * s + x];
      out[y * s + x] = acc / norm;
    }
  }
  return out;
}

/**
 * The detail layer of a thumbnail: the thumbnail minus its Gaussian blur (σ = 2.5 px). Ultrasound
 * images share their coarse layout (dark top band, bright tissue, dark lesion), so correlating raw
 * thumbnails scores unrelated images near 0.9; their speckle and edges differ, which this keeps.
 */
export function detailLayer(thumb: Float32Array): Float32Array {
  const b = blur(thumb, THUMB_SIZE, 2.5);
  return thumb.map((v, i) => v - b[i]);
}

/** The {@link Fingerprint} of a decoded image. */
export function fingerprint(img: RawImage): Fingerprint {
  const gray = grayOf(img);
  const thumb = areaResize(gray, img.height, img.width, THUMB_SIZE, THUMB_SIZE);
  const small = areaResize(thumb, THUMB_SIZE, THUMB_SIZE, HASH_SIZE, HASH_SIZE);
  return { hash: dctHash(small), thumb, detail: detailLayer(thumb), height: img.height, width: img.width };
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Bits in which two hashes differ (0..63). */
export function hammingDistance(a: [number, number], b: [number, number]): number {
  return popcount((a[0] ^ b[0]) >>> 0) + popcount((a[1] ^ b[1]) >>> 0);
}

/**
 * Where image B sits inside image A, in coordinates normalised to [0, 1] along each axis:
 * A's point is `offset + scale · b`. Identity: offsets 0, scales 1; B a crop of A: scales below 1.
 */
export interface Alignment {
  /** Row of A (as a fraction of its height) where B's top edge lands. */
  offsetY: number;
  /** B's height as a fraction of A's (1: same extent; below 1: B is a crop). */
  scaleY: number;
  /** Column of A (as a fraction of its width) where B's left edge lands. */
  offsetX: number;
  /** B's width as a fraction of A's. */
  scaleX: number;
}

/** The outcome of {@link verifyPair}. */
export interface Verification {
  /** Pearson correlation of the aligned thumbnails over their overlap (1: identical up to brightness and contrast). */
  similarity: number;
  /** The best alignment found. */
  alignment: Alignment;
  /** Share of B's thumbnail that falls inside A under that alignment. */
  overlap: number;
}

/** Bilinear sample of a THUMB_SIZE² thumbnail at normalised (y, x) in [0, 1] (pixel centres at (i + ½)/size). */
export function sampleThumb(t: Float32Array, y: number, x: number): number {
  const s = THUMB_SIZE;
  const fy = Math.min(s - 1, Math.max(0, y * s - 0.5));
  const fx = Math.min(s - 1, Math.max(0, x * s - 0.5));
  const y0 = Math.floor(fy);
  const x0 = Math.floor(fx);
  const y1 = Math.min(s - 1, y0 + 1);
  const x1 = Math.min(s - 1, x0 + 1);
  const wy = fy - y0;
  const wx = fx - x0;
  const top = t[y0 * s + x0] * (1 - wx) + t[y0 * s + x1] * wx;
  const bottom = t[y1 * s + x0] * (1 - wx) + t[y1 * s + x1] * wx;
  return top * (1 - wy) + bottom * wy;
}

/** Correlation of B with A under `al`, over every `stride`-th pixel of B (a 2-pixel margin left out) that lands inside A. */
function correlate(a: Float32Array, b: Float32Array, al: Alignment, stride = 1): { r: number; overlap: number } {
  const s = THUMB_SIZE;
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  let total = 0;
  for (let y = 2; y < s - 2; y += stride) {
    const ay = al.offsetY + al.scaleY * ((y + 0.5) / s);
    for (let x = 2; x < s - 2; x += stride) {
      total++;
      const ax = al.offsetX + al.scaleX * ((x + 0.5) / s);
      if (ay < 0 || ay > 1 || ax < 0 || ax > 1) continue;
      const va = sampleThumb(a, ay, ax);
      const vb = b[y * s + x];
      n++;
      sa += va;
      sb += vb;
      saa += va * va;
      sbb += vb * vb;
      sab += va * vb;
    }
  }
  const overlap = n / total;
  if (n < 16) return { r: -1, overlap };
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  // A flat thumbnail (a blank image) correlates with nothing.
  if (va <= 1e-6 * n || vb <= 1e-6 * n) return { r: 0, overlap };
  return { r: cov / Math.sqrt(va * vb), overlap };
}

/** Options of {@link verifyPair}. */
export interface VerifyOptions {
  /** Largest crop searched, as a share of the image along each side. Default 0.12. */
  maxCrop?: number;
  /** Skip the fine search when the detail correlation is still below this after the coarse one (the pair is not a copy). Default 0.3. */
  giveUpBelow?: number;
}

/** Coordinate descent over the alignment maximising `score`, with the given steps; returns the best alignment and score. */
function descend(
  start: Alignment,
  steps: readonly number[],
  score: (al: Alignment) => { r: number; overlap: number },
  allowed: (al: Alignment) => boolean,
): { al: Alignment; r: number } {
  const keys: (keyof Alignment)[] = ['offsetY', 'scaleY', 'offsetX', 'scaleX'];
  let al = start;
  let best = score(al).r;
  for (const step of steps) {
    for (let improved = true, rounds = 0; improved && rounds < 20; rounds++) {
      improved = false;
      for (const k of keys) {
        for (const dir of [-1, 1]) {
          const cand = { ...al, [k]: al[k] + dir * step };
          if (!allowed(cand)) continue;
          const r = score(cand);
          // Ask for most of B to stay inside A, so a tiny overlap cannot score by chance.
          if (r.overlap >= 0.6 && r.r > best + 1e-6) {
            al = cand;
            best = r.r;
            improved = true;
          }
        }
      }
    }
  }
  return { al, r: best };
}

/** Mean of each row (axis 0) or column (axis 1) of a thumbnail. */
function profile(t: Float32Array, axis: 0 | 1): Float64Array {
  const p = new Float64Array(THUMB_SIZE);
  for (let y = 0; y < THUMB_SIZE; y++) for (let x = 0; x < THUMB_SIZE; x++) p[axis === 0 ? y : x] += t[y * THUMB_SIZE + x] / THUMB_SIZE;
  return p;
}

/** The offset and scale along one axis that best match B's intensity profile to A's (a grid search; 1-D, so cheap). */
function alignProfiles(pa: Float64Array, pb: Float64Array, maxCrop: number): [number, number] {
  const s = THUMB_SIZE;
  let best = -2;
  let out: [number, number] = [0, 1];
  for (let off = -maxCrop; off <= maxCrop + 1e-9; off += 0.01) {
    for (let scale = 1 - 2 * maxCrop; scale <= 1 + 2 * maxCrop + 1e-9; scale += 0.01) {
      let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let i = 1; i < s - 1; i++) {
        const u = (off + scale * ((i + 0.5) / s)) * s - 0.5;
        if (u < 0 || u > s - 1) continue;
        const j = Math.floor(u);
        const w = u - j;
        const va = pa[j] * (1 - w) + pa[Math.min(s - 1, j + 1)] * w;
        const vb = pb[i];
        n++, (sa += va), (sb += vb), (saa += va * va), (sbb += vb * vb), (sab += va * vb);
      }
      if (n < s * 0.6) continue;
      const den = Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
      const r = den > 1e-9 ? (sab - (sa * sb) / n) / den : 0;
      if (r > best) (best = r), (out = [off, scale]);
    }
  }
  return out;
}

/**
 * The verification step: finds where B sits in A (or A in B: scales above 1) by coordinate descent
 * over offset and scale per axis, first on the gray thumbnails (a broad peak: steps of 4 % and 2 %
 * on every other pixel), then on their detail layers (steps of 2 %, 1 % and 0.5 %), and returns the
 * detail correlation there. Resized, re-encoded, slightly cropped and marked copies score near 1;
 * different ultrasound images below 0.5 (docs/evaluation.md has the distributions).
 */
export function verifyPair(a: Fingerprint, b: Fingerprint, options: VerifyOptions = {}): Verification {
  const maxCrop = options.maxCrop ?? 0.12;
  const allowed = (c: Alignment) =>
    Math.abs(c.scaleY - 1) <= 2 * maxCrop && Math.abs(c.scaleX - 1) <= 2 * maxCrop && Math.abs(c.offsetY) <= 1.5 * maxCrop && Math.abs(c.offsetX) <= 1.5 * maxCrop;
  const identity: Alignment = { offsetY: 0, scaleY: 1, offsetX: 0, scaleX: 1 };
  // Two starts: the identity, and the per-axis match of row and column intensity profiles (which
  // lands near the right crop where a local search from the identity can stall).
  const [offsetY, scaleY] = alignProfiles(profile(a.thumb, 0), profile(b.thumb, 0), maxCrop);
  const [offsetX, scaleX] = alignProfiles(profile(a.thumb, 1), profile(b.thumb, 1), maxCrop);
  const gray = (al: Alignment) => correlate(a.thumb, b.thumb, al, 2);
  const fromIdentity = descend(identity, [0.04, 0.02], gray, allowed);
  const fromProfiles = descend({ offsetY, scaleY, offsetX, scaleX }, [0.02], gray, allowed);
  const coarse = fromProfiles.r > fromIdentity.r ? fromProfiles : fromIdentity;
  // Both starts: the gray peak can sit a step off when the crop also changed the layout.
  let fine = descend(coarse.al, [0.02], (al) => correlate(a.detail, b.detail, al, 2), allowed);
  if (fine.r < (options.giveUpBelow ?? 0.3)) {
    const alt = descend(identity, [0.02], (al) => correlate(a.detail, b.detail, al, 2), allowed);
    if (alt.r > fine.r) fine = alt;
  }
  if (fine.r >= (options.giveUpBelow ?? 0.3)) fine = descend(fine.al, [0.01, 0.005], (al) => correlate(a.detail, b.detail, al, 1), allowed);
  const final = correlate(a.detail, b.detail, fine.al, 1);
  return { similarity: final.r, alignment: fine.al, overlap: final.overlap };
}
