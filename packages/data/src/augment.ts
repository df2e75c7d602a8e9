import * as tf from '@tensorflow/tfjs-core';
import { Rng, mixSeed, normalizeIntensities, type BatchContext, type TrainingBatch, type TrainingDataset } from '@busi/core';
import type { Normalization } from './busi';

/** Seeded training augmentation of an ultrasound image and its mask. */
export interface AugmentOptions {
  /** Probability of a left-right flip. Default 0.5. (No up-down flip: the transducer is always at the top.) */
  hflip?: number;
  /** Largest rotation in degrees (uniform in ±). Default 10. */
  rotate?: number;
  /** Largest relative zoom (scale uniform in [1-s, 1+s]). Default 0.1. */
  scale?: number;
  /** Largest shift as a fraction of the size (uniform in ±). Default 0.05. */
  translate?: number;
  /** Largest brightness offset on [0, 1] intensities (uniform in ±). Default 0.1. */
  brightness?: number;
  /** Largest relative contrast change around the image mean (factor in [1-c, 1+c]). Default 0.2. */
  contrast?: number;
  /** Largest standard deviation of multiplicative speckle noise (σ uniform in [0, s]). Default 0.1. */
  speckle?: number;
}

const DEFAULTS: Required<AugmentOptions> = { hflip: 0.5, rotate: 10, scale: 0.1, translate: 0.05, brightness: 0.1, contrast: 0.2, speckle: 0.1 };

/** The augmentation parameters actually used. */
export function resolveAugment(options: AugmentOptions = {}): Required<AugmentOptions> {
  const o = { ...DEFAULTS, ...options };
  for (const [k, v] of Object.entries(o)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`augment: ${k} must be a non-negative number, got ${v}`);
  }
  if (o.hflip > 1) throw new Error(`augment: hflip is a probability, got ${o.hflip}`);
  if (o.scale >= 1) throw new Error(`augment: scale must be < 1, got ${o.scale}`);
  return o;
}

/**
 * Augments one sample in place: image `h*w*c` intensities in [0, 1] and mask `h*w` in {0, 1}. The
 * geometric part (flip, rotation, zoom, shift about the centre; image bilinear, mask nearest,
 * outside filled with 0) moves both alike; brightness, contrast and speckle touch the image only.
 * Everything is drawn from `rng`, so a seed fixes the result.
 */
export function augmentSample(image: Float32Array, mask: Float32Array, h: number, w: number, c: number, rng: Rng, options: Required<AugmentOptions>): void {
  const o = options;
  const u = (a: number) => (rng.next() * 2 - 1) * a;
  const flip = rng.next() < o.hflip;
  const angle = (u(o.rotate) * Math.PI) / 180;
  const zoom = 1 + u(o.scale);
  const dx = u(o.translate) * w;
  const dy = u(o.translate) * h;
  const bright = u(o.brightness);
  const contrast = 1 + u(o.contrast);
  const sigma = rng.next() * o.speckle;

  if (flip || angle !== 0 || zoom !== 1 || dx !== 0 || dy !== 0) {
    const src = image.slice();
    const srcMask = mask.slice();
    // Inverse map: output pixel -> source position (rotate/zoom about the centre, then shift).
    const cos = Math.cos(angle) / zoom;
    const sin = Math.sin(angle) / zoom;
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const ox = x - cx - dx;
        const oy = y - cy - dy;
        let sx = cos * ox + sin * oy + cx;
        const sy = -sin * ox + cos * oy + cy;
        if (flip) sx = w - 1 - sx;
        const p = y * w + x;
        const nx = Math.round(sx);
        const ny = Math.round(sy);
        mask[p] = nx >= 0 && nx < w && ny >= 0 && ny < h ? srcMask[ny * w + nx] : 0;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        for (let k = 0; k < c; k++) {
          const at = (yy: number, xx: number) => (xx >= 0 && xx < w && yy >= 0 && yy < h ? src[(yy * w + xx) * c + k] : 0);
          image[p * c + k] =
            (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
        }
      }
    }
  }
  let mean = 0;
  for (let i = 0; i < image.length; i++) mean += image[i];
  mean /= image.length;
  // Speckle is multiplicative, as in ultrasound; one draw per pixel, shared by the (replicated gray) channels.
  for (let p = 0; p < h * w; p++) {
    const noise = sigma > 0 ? 1 + sigma * gaussian(rng) : 1;
    for (let k = 0; k < c; k++) {
      const i = p * c + k;
      const v = ((image[i] - mean) * contrast + mean + bright) * noise;
      image[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

function gaussian(rng: Rng): number {
  const a = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * rng.next());
}

/** Where {@link SampleDataset} gets samples from: intensities in [0, 1] before normalisation. */
export interface SampleSource {
  /** Number of samples. */
  readonly size: number;
  /** Height of every sample, in pixels. */
  readonly height: number;
  /** Width of every sample, in pixels. */
  readonly width: number;
  /** Image channels (1 or 3). */
  readonly channels: number;
  /** Sample `i`: image `h*w*c` in [0, 1] (a fresh array it may modify), mask `h*w` in {0, 1}, label. */
  get(i: number): Promise<{
    /** `h·w·c` values in [0, 1], HWC; the caller may modify it. */
    image: Float32Array;
    /** `h·w` values, 1 on the lesion. */
    mask: Float32Array;
    /** Class index. */
    label: number;
  }>;
}

/** Options of {@link SampleDataset}. */
export interface SampleDatasetOptions {
  /** Per-channel normalisation applied after augmentation. */
  normalization: Normalization;
  /** Augment training batches; null for none. */
  augment?: Required<AugmentOptions> | null;
  /** Seed of the augmentation. Default 0. */
  seed?: number;
}

/**
 * A `TrainingDataset` over a {@link SampleSource}: training batches are augmented with a seed
 * per (epoch, sample), then normalised; validation batches are only normalised.
 */
export class SampleDataset implements TrainingDataset {
  constructor(
    /** Where the unaugmented samples come from, in [0, 1] before normalisation. */
    readonly source: SampleSource,
    private readonly options: SampleDatasetOptions,
    /** Indices into the source (a split part); default all. */
    readonly indices: readonly number[] = Array.from({ length: source.size }, (_, i) => i),
  ) {}

  get size(): number {
    return this.indices.length;
  }

  async getBatch(batch: number[], context?: BatchContext): Promise<TrainingBatch> {
    const { height: h, width: w, channels: c } = this.source;
    const plane = h * w;
    const images = new Float32Array(batch.length * plane * c);
    const masks = new Float32Array(batch.length * plane);
    const labels = new Int32Array(batch.length);
    const aug = context?.training ? this.options.augment : null;
    for (const [j, b] of batch.entries()) {
      const src = this.indices[b];
      if (src === undefined) throw new Error(`SampleDataset: index ${b} out of range [0, ${this.indices.length})`);
      const s = await this.source.get(src);
      if (aug) augmentSample(s.image, s.mask, h, w, c, new Rng(mixSeed(this.options.seed ?? 0, context!.epoch, src)), aug);
      normalizeIntensities(s.image, this.options.normalization, images, j * plane * c);
      masks.set(s.mask, j * plane);
      labels[j] = s.label;
    }
    return {
      images: tf.tensor4d(images, [batch.length, h, w, c]),
      masks: tf.tensor4d(masks, [batch.length, h, w, 1]),
      labels: tf.tensor1d(labels, 'int32'),
    };
  }
}
