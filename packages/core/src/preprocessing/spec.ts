import * as tf from '@tensorflow/tfjs-core';
import { normalizePixels, type Normalization } from './normalization';
import { convertChannels, resizePixels, type PixelImage } from './pixels';

/**
 * How a decoded image becomes a model input, in this order: convert to `channels` (gray: rounded
 * mean of R, G, B; colour: gray replicated; alpha dropped), stretch to `size` with busi's
 * antialiased bilinear filter rounded to 8 bits ({@link resizePixels}), divide by 255, then
 * subtract `normalization.mean` and divide by `normalization.std` per channel. Stored in every
 * model card, so training, evaluation, prediction, the browser and exports agree.
 */
export interface PreprocessingSpec {
  /** Model input [height, width]. */
  size: [number, number];
  /** Model input channels. */
  channels: 1 | 3;
  /** The resampling; 'bilinear' (antialiased, 8-bit) is the only one busi trains with. */
  resize: 'bilinear';
  /** Per-channel statistics applied to [0, 1] intensities. */
  normalization: Normalization;
}

/** Checks a {@link PreprocessingSpec} (for one read from a file), naming `what` in the error. */
export function validatePreprocessing(spec: PreprocessingSpec, what = 'preprocessing'): PreprocessingSpec {
  const [h, w] = spec.size ?? [];
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new Error(`${what}: size must be [height, width] in pixels, got ${JSON.stringify(spec.size)}`);
  if (spec.channels !== 1 && spec.channels !== 3) throw new Error(`${what}: channels must be 1 or 3, got ${String(spec.channels)}`);
  if (spec.resize !== 'bilinear') throw new Error(`${what}: resize must be 'bilinear', got ${String(spec.resize)}`);
  const { mean, std } = spec.normalization ?? {};
  if (!Array.isArray(mean) || !Array.isArray(std) || mean.length !== spec.channels || std.length !== spec.channels) {
    throw new Error(`${what}: normalization needs ${spec.channels} mean and std values, got ${JSON.stringify(spec.normalization)}`);
  }
  if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) throw new Error(`${what}: normalization must be finite with positive std`);
  return spec;
}

/** The spec's image at the model's size and channel count, still 8-bit (what training caches). */
export function resizeForModel(img: PixelImage, spec: Pick<PreprocessingSpec, 'size' | 'channels'>): PixelImage {
  return resizePixels(convertChannels(img, spec.channels), spec.size, 'bilinear');
}

/** Runs the whole of a {@link PreprocessingSpec}: `size[0] * size[1] * channels` normalised floats, HWC. */
export function preprocessImage(img: PixelImage, spec: PreprocessingSpec): Float32Array {
  return normalizePixels(resizeForModel(img, spec).data, spec.normalization);
}

/** {@link preprocessImage} as a one-image batch `[1, H, W, C]` (the caller disposes it). */
export function preprocessToTensor(img: PixelImage, spec: PreprocessingSpec): tf.Tensor4D {
  return tf.tensor4d(preprocessImage(img, spec), [1, spec.size[0], spec.size[1], spec.channels]);
}
