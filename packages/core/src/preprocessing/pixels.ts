/**
 * 8-bit images and the two resamplings busi uses. Pure TypeScript, so Node (after sharp decodes a
 * file) and the browser (after a canvas decodes it) turn the same pixels into the same numbers.
 */

/** A decoded 8-bit image, row-major HWC: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels. */
export interface PixelImage {
  /** `height * width * channels` values in [0, 255] (a canvas's `Uint8ClampedArray` wraps as `new Uint8Array(data.buffer)`). */
  data: Uint8Array;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Values per pixel. */
  channels: number;
}

/** How {@link resizePixels} resamples. */
export type Interpolation = 'bilinear' | 'nearest';

/**
 * Converts between 1 (gray), 2 (gray+alpha), 3 (RGB) and 4 (RGBA) channels. `'auto'` keeps the
 * image's own (gray+alpha becomes RGBA). Gray from colour is the rounded mean of R, G and B (exact
 * for gray files stored as RGB); colour from gray replicates it; alpha is dropped for 1 and 3 and
 * made opaque when added.
 */
export function convertChannels(img: PixelImage, channels: 1 | 3 | 4 | 'auto'): PixelImage {
  const c = img.channels;
  const want = channels === 'auto' ? (c === 2 ? 4 : c) : channels;
  if (want === c) return img;
  const n = img.height * img.width;
  const out = new Uint8Array(n * want);
  const hasAlpha = c === 2 || c === 4;
  const colour = hasAlpha ? c - 1 : c;
  for (let i = 0; i < n; i++) {
    const src = i * c;
    if (want === 1) {
      if (colour === 1) out[i] = img.data[src];
      else out[i] = Math.round((img.data[src] + img.data[src + 1] + img.data[src + 2]) / 3);
    } else {
      const dst = i * want;
      for (let k = 0; k < 3; k++) out[dst + k] = img.data[src + (colour === 1 ? 0 : k)];
      if (want === 4) out[dst + 3] = hasAlpha ? img.data[src + c - 1] : 255;
    }
  }
  return { data: out, height: img.height, width: img.width, channels: want };
}

/**
 * Resizes 8-bit pixels to [height, width], stretching (BUSI images are fitted to the model's square
 * input). 'bilinear' is a separable triangle filter on pixel centres that widens with the
 * reduction factor when shrinking (antialiased, as PIL's and torchvision's antialiased bilinear),
 * rounded back to 8 bits; 'nearest' picks the source pixel under each output pixel's centre (masks).
 */
export function resizePixels(img: PixelImage, size: readonly [number, number], interpolation: Interpolation = 'bilinear'): PixelImage {
  const [height, width] = size;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new Error(`resize: size must be two positive integers, got [${size.join(', ')}]`);
  }
  if (img.data.length !== img.height * img.width * img.channels) {
    throw new Error(`resize: ${img.data.length} values do not match ${img.height}x${img.width}x${img.channels}`);
  }
  if (height === img.height && width === img.width) return img;
  const c = img.channels;
  if (interpolation === 'nearest') {
    const out = new Uint8Array(height * width * c);
    const ys = nearestIndex(img.height, height);
    const xs = nearestIndex(img.width, width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const src = (ys[y] * img.width + xs[x]) * c;
        const dst = (y * width + x) * c;
        for (let k = 0; k < c; k++) out[dst + k] = img.data[src + k];
      }
    }
    return { data: out, height, width, channels: c };
  }
  // Rows first (width), then columns (height), in float64; rounded once at the end.
  const across = triangleWeights(img.width, width);
  const down = triangleWeights(img.height, height);
  const mid = new Float64Array(img.height * width * c);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      const { start, weights } = across[x];
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < weights.length; t++) s += weights[t] * img.data[(y * img.width + start + t) * c + k];
        mid[(y * width + x) * c + k] = s;
      }
    }
  }
  const out = new Uint8Array(height * width * c);
  for (let y = 0; y < height; y++) {
    const { start, weights } = down[y];
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < weights.length; t++) s += weights[t] * mid[((start + t) * width + x) * c + k];
        out[(y * width + x) * c + k] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
      }
    }
  }
  return { data: out, height, width, channels: c };
}

/** Source index under each output pixel's centre. */
function nearestIndex(inSize: number, outSize: number): Int32Array {
  const scale = inSize / outSize;
  return Int32Array.from({ length: outSize }, (_, i) => Math.min(inSize - 1, Math.floor((i + 0.5) * scale)));
}

/** Per output pixel: the first source pixel and the normalised triangle-filter weights from there. */
function triangleWeights(inSize: number, outSize: number): { start: number; weights: Float64Array }[] {
  const scale = inSize / outSize;
  const stretch = Math.max(scale, 1);
  const support = stretch;
  const out: { start: number; weights: Float64Array }[] = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const start = Math.max(0, Math.floor(centre - support + 0.5));
    const end = Math.min(inSize, Math.floor(centre + support + 0.5));
    const weights = new Float64Array(Math.max(1, end - start));
    let total = 0;
    for (let t = 0; t < end - start; t++) {
      const d = Math.abs((start + t + 0.5 - centre) / stretch);
      weights[t] = d < 1 ? 1 - d : 0;
      total += weights[t];
    }
    // A zero total only happens at degenerate edges: fall back to the nearest pixel.
    if (total > 0) for (let t = 0; t < weights.length; t++) weights[t] /= total;
    else weights[0] = 1;
    out.push({ start: Math.min(start, inSize - 1), weights });
  }
  return out;
}
