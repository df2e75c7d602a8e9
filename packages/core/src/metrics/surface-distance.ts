import { percentile } from './stats';

/**
 * Boundary distances between two binary masks of one image: 95 % Hausdorff distance and average
 * surface distance, in pixels or (with a spacing) physical units.
 *
 * Conventions (written down because libraries differ):
 * - The surface of a mask is its foreground pixels with at least one 4-neighbour in the background;
 *   pixels outside the image count as background (so a mask touching the border has a surface there).
 * - Distances run between pixel centres, Euclidean, scaled per axis by the spacing.
 * - HD95 is the larger of the two directed 95th percentiles (prediction → truth and truth →
 *   prediction), each percentile linearly interpolated between order statistics (NumPy's default),
 *   as MONAI computes it; `hausdorff` is the plain maximum.
 * - ASD is symmetric: the mean of both directed distance sets pooled together.
 * - Both masks empty: every distance is 0 (a correct "no lesion"). Exactly one empty: the distances
 *   are undefined and returned as NaN; reports leave such images out of the means and count them.
 */

/** Pixel size along [rows, columns] (e.g. mm per pixel); a number means square pixels. Default 1. */
export type PixelSpacing = number | readonly [number, number];

/** Boundary distances of one prediction against its truth. */
export interface SurfaceDistances {
  /** 95 % Hausdorff distance (NaN when exactly one mask is empty). */
  hd95: number;
  /** Hausdorff distance: the largest boundary distance (NaN when exactly one mask is empty). */
  hausdorff: number;
  /** Symmetric average surface distance (NaN when exactly one mask is empty). */
  asd: number;
  /** Surface pixels of the truth mask. */
  truthSurface: number;
  /** Surface pixels of the predicted mask. */
  predictionSurface: number;
}

function spacingOf(spacing: PixelSpacing | undefined): [number, number] {
  const s: [number, number] = spacing === undefined ? [1, 1] : typeof spacing === 'number' ? [spacing, spacing] : [spacing[0], spacing[1]];
  if (!(s[0] > 0 && s[1] > 0 && Number.isFinite(s[0]) && Number.isFinite(s[1]))) {
    throw new Error(`surface distance: spacing must be positive finite numbers [rows, columns], got [${s}]`);
  }
  return s;
}

/** The surface pixels (see the module conventions) of a `height`×`width` mask; nonzero is foreground. */
export function maskSurface(mask: ArrayLike<number>, height: number, width: number): Uint8Array {
  if (mask.length !== height * width) throw new Error(`maskSurface: ${mask.length} values for a ${height}x${width} mask`);
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge =
        y === 0 || y === height - 1 || x === 0 || x === width - 1 || !mask[i - width] || !mask[i + width] || !mask[i - 1] || !mask[i + 1];
      if (edge) out[i] = 1;
    }
  }
  return out;
}

// Felzenszwalb & Huttenlocher's 1-D squared distance transform of f (0 at sites, Infinity elsewhere),
// with the axis scaled by `step`: d[q] = min_p f[p] + (step·(q − p))².
function edt1d(f: Float64Array, n: number, step: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  const s2 = step * step;
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // z[0] = -Infinity ends the loop at k = 0 at the latest.
    let s = 0;
    for (;;) {
      const p = v[k];
      s = (f[q] + s2 * q * q - (f[p] + s2 * p * p)) / (2 * s2 * (q - p));
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    const dq = q - v[j];
    d[q] = s2 * dq * dq + f[v[j]];
  }
}

/**
 * Exact Euclidean distance (not squared) from every pixel to the nearest nonzero pixel of `sites`,
 * scaled by `spacing`; Infinity everywhere when there is no site. Linear time (two 1-D passes).
 */
export function distanceTransform(sites: ArrayLike<number>, height: number, width: number, spacing?: PixelSpacing): Float64Array {
  const [sy, sx] = spacingOf(spacing);
  const n = Math.max(height, width);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const g = new Float64Array(height * width);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = sites[y * width + x] ? 0 : Infinity;
    edt1d(f, height, sy, d, v, z);
    for (let y = 0; y < height; y++) g[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = g[y * width + x];
    edt1d(f, width, sx, d, v, z);
    for (let x = 0; x < width; x++) g[y * width + x] = Math.sqrt(d[x]);
  }
  return g;
}

/** Distances from each surface pixel of `from` to the nearest surface pixel of `to` (a distance map of `to`'s surface). */
function directed(fromSurface: Uint8Array, toDistance: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < fromSurface.length; i++) if (fromSurface[i]) out.push(toDistance[i]);
  return out;
}

/**
 * HD95, Hausdorff distance and symmetric ASD of `prediction` against `truth` (both `height`×`width`,
 * nonzero = foreground), with the conventions of this module's header: both empty → 0, exactly one
 * empty → NaN.
 * @example
 * ```ts
 * import { surfaceDistances } from '@busi/core';
 * const d = surfaceDistances(truthMask, predictedMask, 64, 64, { spacing: [0.1, 0.1] }); // mm
 * d.hd95; d.asd;
 * ```
 */
export function surfaceDistances(
  truth: ArrayLike<number>,
  prediction: ArrayLike<number>,
  height: number,
  width: number,
  options: { spacing?: PixelSpacing } = {},
): SurfaceDistances {
  if (truth.length !== height * width || prediction.length !== height * width) {
    throw new Error(`surfaceDistances: truth (${truth.length}) and prediction (${prediction.length}) must both hold ${height}x${width} values`);
  }
  const st = maskSurface(truth, height, width);
  const sp = maskSurface(prediction, height, width);
  const nt = st.reduce((a, b) => a + b, 0);
  const np = sp.reduce((a, b) => a + b, 0);
  if (nt === 0 && np === 0) return { hd95: 0, hausdorff: 0, asd: 0, truthSurface: 0, predictionSurface: 0 };
  if (nt === 0 || np === 0) return { hd95: NaN, hausdorff: NaN, asd: NaN, truthSurface: nt, predictionSurface: np };
  const predToTruth = directed(sp, distanceTransform(st, height, width, options.spacing));
  const truthToPred = directed(st, distanceTransform(sp, height, width, options.spacing));
  let max = 0;
  let sum = 0;
  for (const x of predToTruth) (max = Math.max(max, x)), (sum += x);
  for (const x of truthToPred) (max = Math.max(max, x)), (sum += x);
  return {
    hd95: Math.max(percentile(predToTruth, 95), percentile(truthToPred, 95)),
    hausdorff: max,
    asd: sum / (predToTruth.length + truthToPred.length),
    truthSurface: nt,
    predictionSurface: np,
  };
}
