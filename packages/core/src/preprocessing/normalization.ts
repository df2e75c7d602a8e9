/** A per-channel normalisation applied to intensities in [0, 1] (8-bit pixels divided by 255). */
export interface Normalization {
  /** Mean per channel. */
  mean: readonly number[];
  /** Standard deviation per channel (positive). */
  std: readonly number[];
}

/** ImageNet's statistics, which smp's pretrained encoders expect (and the BUSI papers use). */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** A normalisation by name: 'imagenet', 'unit' (just scale to [0, 1]), or explicit statistics. */
export type NormalizationSpec = 'imagenet' | 'unit' | Normalization;

/**
 * Resolves a {@link NormalizationSpec} for `channels` channels: gray takes the mean of three-channel
 * statistics, and one value is repeated over every channel.
 */
export function resolveNormalization(spec: NormalizationSpec, channels: number): Normalization {
  if (spec === 'unit') return { mean: Array(channels).fill(0), std: Array(channels).fill(1) };
  const n = spec === 'imagenet' ? IMAGENET_NORMALIZATION : spec;
  let out: Normalization = n;
  if (channels === 1 && n.mean.length === 3 && n.std.length === 3) {
    const avg = (a: readonly number[]) => (a[0] + a[1] + a[2]) / 3;
    out = { mean: [avg(n.mean)], std: [avg(n.std)] };
  } else if (n.mean.length === 1 && n.std.length === 1 && channels > 1) {
    out = { mean: Array(channels).fill(n.mean[0]), std: Array(channels).fill(n.std[0]) };
  }
  if (out.mean.length !== channels || out.std.length !== channels) {
    throw new Error(`normalization: need ${channels} mean and std values, got ${n.mean.length} and ${n.std.length}`);
  }
  if (out.std.some((s) => !(s > 0))) throw new Error('normalization: every std must be positive');
  return out;
}

/**
 * 8-bit pixels as float32 intensities in [0, 1] (`pixel / 255`). The one place busi scales pixels:
 * {@link normalizePixels} is exactly `normalizeIntensities(pixelsToIntensities(x))`, so a path that
 * stores intensities (training) and one that normalises pixels directly (prediction, the browser)
 * give bit-identical inputs.
 */
export function pixelsToIntensities(data: ArrayLike<number>, out?: Float32Array, offset = 0): Float32Array {
  const dst = out ?? new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) dst[offset + i] = data[i] / 255;
  return dst;
}

/** Intensities in [0, 1] as rounded 8-bit pixels (clamped): the inverse of {@link pixelsToIntensities}. */
export function intensitiesToPixels(data: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/** `(pixel / 255 - mean) / std` per channel of 8-bit `data`, written into `out` at `offset` (or a new array). */
export function normalizePixels(data: ArrayLike<number>, norm: Normalization, out?: Float32Array, offset = 0): Float32Array {
  // Through float32 intensities, as the training path stores them, so both give the same bits.
  return normalizeScaled(data, (v) => Math.fround(v / 255), norm, out, offset);
}

/** `(value - mean) / std` per channel of intensities already in [0, 1], written into `out` at `offset` (or a new array). */
export function normalizeIntensities(data: ArrayLike<number>, norm: Normalization, out?: Float32Array, offset = 0): Float32Array {
  return normalizeScaled(data, (v) => v, norm, out, offset);
}

function normalizeScaled(data: ArrayLike<number>, scale: (v: number) => number, norm: Normalization, out: Float32Array | undefined, offset: number): Float32Array {
  const c = norm.mean.length;
  const dst = out ?? new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const k = i % c;
    dst[offset + i] = (scale(data[i]) - norm.mean[k]) / norm.std[k];
  }
  return dst;
}
