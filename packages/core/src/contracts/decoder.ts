import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { DecoderInitSpec } from '../init/init-spec';

/** Arguments every registered decoder factory accepts (decoder-specific options extend it). */
export interface DecoderArgs {
  /** The encoder's channel list, input first (`Encoder.outChannels`): the only thing a decoder knows of its encoder. */
  encoderChannels: readonly number[];
  /** Prefix of every layer name (PyTorch module path of the decoder). Default 'decoder'. */
  prefix?: string;
}

/** The serialisable description of a decoder: registry name plus every constructor argument. */
export interface DecoderConfig {
  /** Registry name, e.g. 'unet'. */
  name: string;
  /** Every argument the factory was called with, defaults filled in. */
  args: Record<string, unknown>;
}

/**
 * A segmentation decoder. It is built from the encoder's channel list alone; `apply` takes the
 * encoder's features (input first) and returns one map that the segmentation head turns into mask logits.
 */
export interface Decoder {
  /** Registry name. */
  readonly name: string;
  /** Channels of the returned map. */
  readonly outChannels: number;
  /** Stride of the returned map relative to the input (1 for Unet; 4 for FPN and DeepLabV3+). */
  readonly outputStride: number;
  /** Kernel size the reference uses for the segmentation head's conv on this decoder (3 for Unet, 1 for FPN). */
  readonly headKernelSize: number;
  /**
   * How the PyTorch reference starts the decoder's and the heads' weights, applied by
   * {@link MultiTaskModel}. Absent: smp's `SegmentationModel.initialize()` (`initialize_decoder`,
   * `initialize_head`).
   */
  readonly initialization?: DecoderInitSpec;
  /** Builds the layers on the encoder features and returns the decoded map. */
  apply(features: SymbolicTensor[]): SymbolicTensor;
  /** Every constructor argument, so `createDecoder(config.name, config.args)` rebuilds it. */
  getConfig(): DecoderConfig;
}
