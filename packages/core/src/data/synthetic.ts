import * as tf from '@tensorflow/tfjs-core';
import { mixSeed, mulberry32 } from '../random/rng';

import type { Normalization } from '../preprocessing/normalization';
import { BUSI_CLASSES } from './busi-classes';

/** Options of {@link generateSynthetic}. */
export interface SyntheticOptions {
  /** Image size: one number for square images or [height, width]. Default 128. */
  size?: number | [number, number];
  /** Number of images. Default 64. */
  count?: number;
  /** Relative class frequencies [benign, malignant, normal]; counts are exact (largest remainder). Default BUSI's 437:210:133. */
  classBalance?: [number, number, number];
  /** Seed: the same seed and options give bit-identical data. Default 0. */
  seed?: number;
  /** Image channels: 1 (grayscale) or 3 (gray replicated, as BUSI's RGB files). Default 3. */
  channels?: 1 | 3;
}

/** A synthetic ultrasound set: images in [0, 1], binary masks and class labels, row-major NHWC. */
export interface SyntheticSet {
  /** `count * height * width * channels` intensities in [0, 1]. */
  images: Float32Array;
  /** `count * height * width` values 0 or 1 (1 = lesion). */
  masks: Float32Array;
  /** `count` class indices into {@link BUSI_CLASSES}. */
  labels: Int32Array;
  /** Number of images. */
  count: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel: 1 (grayscale) or 3 (the gray value replicated). */
  channels: 1 | 3;
  /** The class names, indexed by label. */
  classNames: readonly string[];
}

/** One synthetic image (see {@link SyntheticSet} for the layouts). */
export interface SyntheticSample {
  /** `height * width * channels` intensities in [0, 1], row-major HWC. */
  image: Float32Array;
  /** `height * width` values 0 or 1 (1 = lesion); all 0 for a normal image. */
  mask: Float32Array;
  /** Class index into {@link BUSI_CLASSES}. */
  label: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel: 1 (grayscale) or 3 (the gray value replicated). */
  channels: 1 | 3;
}

const DEFAULT_BALANCE: [number, number, number] = [437, 210, 133];

/**
 * Generates ultrasound-like images with lesion masks and labels: multiplicative Rayleigh speckle over
 * a depth-attenuated background with horizontal tissue bands; a dark hypoechoic lesion that is a smooth
 * oval (benign, with mild posterior enhancement) or an irregular spiculated shape with posterior
 * acoustic shadowing (malignant); no lesion and an empty mask for normal. Pure TypeScript (no node APIs).
 *
 * @example
 * ```ts
 * const set = generateSynthetic({ size: 96, count: 32, seed: 1 });
 * const { images, masks, labels } = syntheticToTensors(set);
 * ```
 */
export function generateSynthetic(options: SyntheticOptions = {}): SyntheticSet {
  const [height, width] = sizeOf(options.size ?? 128);
  const count = options.count ?? 64;
  const channels = options.channels ?? 3;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new Error(`generateSynthetic: count must be a non-negative integer, got ${count}`);
  if (channels !== 1 && channels !== 3) throw new Error(`generateSynthetic: channels must be 1 or 3, got ${String(channels)}`);
  const labels = assignLabels(count, options.classBalance ?? DEFAULT_BALANCE, seed);
  const plane = height * width;
  const images = new Float32Array(count * plane * channels);
  const masks = new Float32Array(count * plane);
  for (let i = 0; i < count; i++) {
    const s = syntheticSample({ size: [height, width], label: labels[i], seed: mixSeed(seed, i), channels });
    images.set(s.image, i * plane * channels);
    masks.set(s.mask, i * plane);
  }
  return { images, masks, labels, count, height, width, channels, classNames: BUSI_CLASSES };
}

/** Options of {@link syntheticSample}. */
export interface SyntheticSampleOptions {
  /** One number or [height, width]. Default 128. */
  size?: number | [number, number];
  /** Class index into {@link BUSI_CLASSES}. */
  label: number;
  /** Seed of this image. Default 0. */
  seed?: number;
  /** 1 or 3. Default 3. */
  channels?: 1 | 3;
}

/** Renders one synthetic image of a given class, deterministically from its seed. */
export function syntheticSample(options: SyntheticSampleOptions): SyntheticSample {
  const [height, width] = sizeOf(options.size ?? 128);
  const channels = options.channels ?? 3;
  const label = options.label;
  if (!(label === 0 || label === 1 || label === 2)) {
    throw new Error(`syntheticSample: label must be 0 (benign), 1 (malignant) or 2 (normal), got ${label}`);
  }
  const rng = mulberry32(options.seed ?? 0);
  const plane = height * width;
  const gray = new Float32Array(plane);
  const mask = new Float32Array(plane);

  // Background echo level: falls with depth (attenuation), modulated by wavy horizontal tissue layers.
  const base = 0.45 + 0.15 * rng();
  const atten = 0.35 + 0.25 * rng();
  const nBands = 3 + Math.floor(rng() * 4);
  const bands: { y: number; amp: number; thick: number; waveA: number; waveF: number; phase: number }[] = [];
  for (let b = 0; b < nBands; b++) {
    bands.push({
      y: rng() * height,
      amp: (rng() < 0.5 ? -1 : 1) * (0.1 + 0.2 * rng()),
      thick: (0.02 + 0.06 * rng()) * height,
      waveA: (0.01 + 0.04 * rng()) * height,
      waveF: (0.5 + 2 * rng()) * (2 * Math.PI) / width,
      phase: rng() * 2 * Math.PI,
    });
  }
  for (let y = 0; y < height; y++) {
    const depth = y / height;
    for (let x = 0; x < width; x++) {
      let v = base * (1 - atten * depth);
      for (const b of bands) {
        const d = (y - b.y - b.waveA * Math.sin(b.waveF * x + b.phase)) / b.thick;
        v += b.amp * Math.exp(-d * d);
      }
      gray[y * width + x] = v;
    }
  }

  if (label !== 2) drawLesion(gray, mask, height, width, label === 1, rng);

  // Speckle: Rayleigh amplitude (unit mean), smoothed over a 3x3 box so grains span a few pixels.
  const speckle = new Float32Array(plane);
  const rayleighMean = Math.sqrt(Math.PI / 2);
  for (let i = 0; i < plane; i++) speckle[i] = Math.sqrt(-2 * Math.log(1 - rng())) / rayleighMean;
  const smooth = boxBlur3(speckle, height, width);
  const image = new Float32Array(plane * channels);
  for (let i = 0; i < plane; i++) {
    // Mixing raw and smoothed speckle keeps the grain while taming its variance.
    const n = 0.5 * speckle[i] + 0.5 * smooth[i];
    const v = Math.min(1, Math.max(0, gray[i] * n));
    if (channels === 1) image[i] = v;
    else image[i * 3] = image[i * 3 + 1] = image[i * 3 + 2] = v;
  }
  return { image, mask, label, height, width, channels };
}

function drawLesion(
  gray: Float32Array,
  mask: Float32Array,
  height: number,
  width: number,
  malignant: boolean,
  rng: () => number,
): void {
  const minSide = Math.min(height, width);
  const cx = width * (0.3 + 0.4 * rng());
  const cy = height * (0.3 + 0.3 * rng());
  // Benign lesions are wider than tall (parallel to the skin); malignant ones tend to be taller than wide.
  const r0 = minSide * (0.1 + 0.08 * rng());
  const aspect = malignant ? 0.8 + 0.4 * rng() : 1.3 + 0.5 * rng();
  const rx = r0 * Math.sqrt(aspect);
  const ry = r0 / Math.sqrt(aspect);
  const rot = (rng() - 0.5) * (malignant ? 1.2 : 0.5);
  const harmonics: { k: number; a: number; p: number }[] = [];
  const spikes: { theta: number; len: number; width: number }[] = [];
  if (malignant) {
    for (let k = 3; k <= 9; k++) harmonics.push({ k, a: (0.05 + 0.1 * rng()) / Math.sqrt(k - 2), p: rng() * 2 * Math.PI });
    const nSpikes = 5 + Math.floor(rng() * 6);
    for (let s = 0; s < nSpikes; s++) spikes.push({ theta: rng() * 2 * Math.PI, len: 0.25 + 0.45 * rng(), width: 0.06 + 0.08 * rng() });
  } else {
    harmonics.push({ k: 2, a: 0.04 * rng(), p: rng() * 2 * Math.PI });
    harmonics.push({ k: 3, a: 0.03 * rng(), p: rng() * 2 * Math.PI });
  }
  // Boundary radius (relative to the ellipse) at polar angle theta.
  const radius = (theta: number): number => {
    let r = 1;
    for (const h of harmonics) r += h.a * Math.sin(h.k * theta + h.p);
    for (const s of spikes) {
      let d = Math.abs(theta - s.theta) % (2 * Math.PI);
      if (d > Math.PI) d = 2 * Math.PI - d;
      if (d < s.width) r += s.len * (1 - d / s.width) ** 2;
    }
    return r;
  };
  const inner = 0.08 + 0.07 * rng();
  const cos = Math.cos(rot);
  const sin = Math.sin(rot);
  const edge = malignant ? 0.04 : 0.1;
  let xMin = width;
  let xMax = -1;
  let yMax = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const u = (dx * cos + dy * sin) / rx;
      const v = (-dx * sin + dy * cos) / ry;
      const rho = Math.sqrt(u * u + v * v);
      const rb = radius(Math.atan2(v, u));
      const i = y * width + x;
      if (rho <= rb) {
        mask[i] = 1;
        if (x < xMin) xMin = x;
        if (x > xMax) xMax = x;
        if (y > yMax) yMax = y;
      }
      // A soft rim for benign lesions (smooth capsule); malignant margins are sharper and angular.
      const t = Math.min(1, Math.max(0, (rb - rho) / edge + 0.5));
      if (t > 0) gray[i] = gray[i] * (1 - t) + inner * t;
    }
  }
  if (xMax < 0) return;
  // Posterior acoustic feature: malignant lesions shadow the tissue beneath; benign cysts enhance it.
  const factor = malignant ? 0.35 + 0.2 * rng() : 1.15 + 0.1 * rng();
  const halfW = (xMax - xMin + 1) / 2;
  const mid = (xMin + xMax) / 2;
  for (let y = yMax + 1; y < height; y++) {
    const fade = Math.exp(-(y - yMax) / (0.6 * height));
    for (let x = Math.max(0, Math.floor(xMin - 2)); x <= Math.min(width - 1, Math.ceil(xMax + 2)); x++) {
      const across = Math.min(1, Math.max(0, 1.2 - Math.abs(x - mid) / halfW));
      const f = 1 + (factor - 1) * fade * across;
      gray[y * width + x] *= f;
    }
  }
}

/** Options of {@link syntheticToTensors}. */
export interface SyntheticTensorOptions {
  /** Per-channel mean and std to normalise with (e.g. ImageNet's); default none (values stay in [0, 1]). */
  normalization?: Normalization | null;
}

/** The tensors of a synthetic set: images `[N,H,W,C]`, masks `[N,H,W,1]`, labels `[N]` (int32), one-hot `[N,3]`. */
export interface SyntheticTensors {
  /** Images `[N, H, W, C]`, normalised if the options asked for it. */
  images: tf.Tensor4D;
  /** Binary lesion masks `[N, H, W, 1]` (float32 0 or 1): the segmentation target. */
  masks: tf.Tensor4D;
  /** Class indices `[N]` (int32). */
  labels: tf.Tensor1D;
  /** The labels one-hot `[N, classes]` (float32): the classification target. */
  oneHot: tf.Tensor2D;
}

/** Wraps a {@link SyntheticSet} (or a subset of its indices) as tensors; the caller disposes them. */
export function syntheticToTensors(set: SyntheticSet, options: SyntheticTensorOptions & { indices?: readonly number[] } = {}): SyntheticTensors {
  const { height: h, width: w, channels: c } = set;
  const idx = options.indices ?? Array.from({ length: set.count }, (_, i) => i);
  const plane = h * w;
  const images = new Float32Array(idx.length * plane * c);
  const masks = new Float32Array(idx.length * plane);
  const labels = new Int32Array(idx.length);
  idx.forEach((src, j) => {
    if (!(src >= 0 && src < set.count)) throw new Error(`syntheticToTensors: index ${src} out of range [0, ${set.count})`);
    images.set(set.images.subarray(src * plane * c, (src + 1) * plane * c), j * plane * c);
    masks.set(set.masks.subarray(src * plane, (src + 1) * plane), j * plane);
    labels[j] = set.labels[src];
  });
  const norm = options.normalization;
  if (norm) {
    if (norm.mean.length < c || norm.std.length < c) throw new Error(`syntheticToTensors: normalization needs ${c} mean/std values`);
    for (let i = 0; i < images.length; i++) images[i] = (images[i] - norm.mean[i % c]) / norm.std[i % c];
  }
  return tf.tidy(() => {
    const lab = tf.tensor1d(labels, 'int32');
    return {
      images: tf.tensor4d(images, [idx.length, h, w, c]),
      masks: tf.tensor4d(masks, [idx.length, h, w, 1]),
      labels: lab,
      oneHot: tf.cast(tf.oneHot(lab, set.classNames.length), 'float32') as tf.Tensor2D,
    };
  });
}

/** Exact per-class counts by the largest-remainder rule, shuffled with the seed. */
function assignLabels(count: number, balance: readonly number[], seed: number): Int32Array {
  if (balance.length !== 3 || balance.some((b) => !(b >= 0)) || balance.every((b) => b === 0)) {
    throw new Error(`generateSynthetic: classBalance must be three non-negative weights, not all zero; got [${balance.join(', ')}]`);
  }
  const total = balance.reduce((a, b) => a + b, 0);
  const exact = balance.map((b) => (b / total) * count);
  const counts = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let r = count - counts.reduce((a, b) => a + b, 0), j = 0; r > 0; r--, j++) counts[order[j][1]]++;
  const labels = new Int32Array(count);
  let k = 0;
  counts.forEach((n, cls) => labels.fill(cls, k, (k += n)));
  const rng = mulberry32(seed ^ 0x5bd1e995);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = labels[i];
    labels[i] = labels[j];
    labels[j] = t;
  }
  return labels;
}

function boxBlur3(src: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          s += src[yy * w + xx];
          n++;
        }
      }
      out[y * w + x] = s / n;
    }
  }
  return out;
}

function sizeOf(size: number | [number, number]): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 8 || w < 8) {
    throw new Error(`synthetic: size must be integers >= 8, got ${JSON.stringify(size)}`);
  }
  return [h, w];
}
