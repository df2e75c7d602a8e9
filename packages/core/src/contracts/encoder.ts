import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { InitSpec } from '../init/init-spec';

/** Arguments every registered encoder factory accepts (encoder-specific options extend it). */
export interface EncoderArgs {
  /** Input channels (3 for RGB, 1 for grayscale ultrasound). Default 3. */
  inChannels?: number;
  /** Number of downsampling stages (1..5). Default 5. */
  depth?: number;
  /** Output stride of the deepest feature: 32, 16 (the last stage dilated, for DeepLabV3+) or 8 (the last two, for DeepLabV3). Default 32. */
  outputStride?: 8 | 16 | 32;
  /** Prefix of every layer name (PyTorch module path of the encoder). Default 'encoder'. */
  prefix?: string;
}

/** The serialisable description of an encoder: registry name plus every constructor argument. */
export interface EncoderConfig {
  /** Registry name, e.g. 'resnet50'. */
  name: string;
  /** Every argument the factory was called with, defaults filled in. */
  args: Required<Pick<EncoderArgs, 'inChannels' | 'depth' | 'outputStride' | 'prefix'>> & Record<string, unknown>;
}

/**
 * A feature extractor. `apply` builds the encoder's layers on a symbolic NHWC input and returns
 * `depth + 1` features: the input itself, then the maps at strides 2, 4, 8, 16, 32 (smp's
 * convention, so a decoder indexes features by level). Each call creates fresh layers.
 */
export interface Encoder {
  /** Registry name. */
  readonly name: string;
  /** Channels of each returned feature, input first: e.g. [3, 64, 256, 512, 1024, 2048]. */
  readonly outChannels: readonly number[];
  /** Stride of each returned feature relative to the input: e.g. [1, 2, 4, 8, 16, 32]. */
  readonly reductions: readonly number[];
  /** Human-readable feature names, parallel to `outChannels` ('input', 'stride2', ...). */
  readonly featureNames: readonly string[];
  /** Stride of the deepest feature (input H and W must be divisible by it). */
  readonly outputStride: number;
  /**
   * How the PyTorch reference starts this encoder's weights, applied by {@link MultiTaskModel}.
   * Absent: PyTorch's per-module defaults.
   */
  readonly initialization?: InitSpec;
  /** Builds the layers on `input` and returns the features. */
  apply(input: SymbolicTensor): SymbolicTensor[];
  /** Every constructor argument, so `createEncoder(config.name, config.args)` rebuilds it. */
  getConfig(): EncoderConfig;
}

/** Feature names for strides [1, 2, 4, ...]. */
export function featureNamesFor(reductions: readonly number[]): string[] {
  return reductions.map((r) => (r === 1 ? 'input' : `stride${r}`));
}
