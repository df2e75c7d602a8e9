import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Decoder, DecoderArgs, DecoderConfig } from '@busi/core';
import { checkAttentionType, checkEncoderChannels, perStageChannels, unetBlock, type AttentionType } from '../blocks';

/** smp's Unet default decoder widths, deepest block first. */
export const UNET_DEFAULT_CHANNELS = [256, 128, 64, 32, 16] as const;

/** Options of {@link UnetDecoder} (smp's `decoder_*` arguments). */
export interface UnetDecoderArgs extends DecoderArgs {
  /**
   * Output channels of each block, deepest first; one block per encoder stage. Default
   * (256, 128, 64, 32, 16), cut to the encoder's depth when it is shallower than 5.
   */
  decoderChannels?: readonly number[];
  /** Conv → BatchNorm → ReLU (true) or conv with bias → ReLU (false). Default true. */
  useBatchnorm?: boolean;
  /** Attention after the skip concatenation and after each block: null (none) or 'scse'. Default null. */
  attentionType?: AttentionType;
  /**
   * smp's Unet has no dropout: only 0 is accepted (for option sets shared across decoders, such as
   * the parity harness's), and it is not kept in the config. Any other rate is an error.
   */
  dropout?: 0;
}

/**
 * smp's Unet decoder: per block, nearest ×2 up-sampling, concatenation with the encoder skip of that
 * resolution (stride 16, 8, 4, 2; the last block has none), optional scSE attention, then two
 * Conv3×3 → BN → ReLU ({@link unetBlock}). The stride-1 input feature is never used.
 */
export class UnetDecoder implements Decoder {
  readonly name = 'unet';
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;
  readonly encoderChannels: readonly number[];
  readonly decoderChannels: readonly number[];
  readonly useBatchnorm: boolean;
  readonly attentionType: AttentionType;
  readonly prefix: string;

  constructor(args: UnetDecoderArgs) {
    this.encoderChannels = checkEncoderChannels('unet', args?.encoderChannels);
    const blocks = this.encoderChannels.length - 1;
    this.decoderChannels = perStageChannels('unet', this.encoderChannels, args.decoderChannels, UNET_DEFAULT_CHANNELS);
    this.useBatchnorm = args.useBatchnorm ?? true;
    this.attentionType = args.attentionType ?? null;
    checkAttentionType('unet', this.attentionType);
    this.prefix = args.prefix ?? 'decoder';
    if (args.dropout !== undefined && args.dropout !== 0) {
      throw new Error(`unet: smp's Unet decoder has no dropout, got dropout ${String(args.dropout)} (the classification head's is classificationHead.dropout)`);
    }
    this.outChannels = this.decoderChannels[blocks - 1];
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (features.length !== this.encoderChannels.length) {
      throw new Error(`unet: built for ${this.encoderChannels.length} encoder features, got ${features.length}`);
    }
    // Deepest first; the stride-1 input is dropped.
    const maps = features.slice(1).reverse();
    const skips = maps.slice(1);
    let x = maps[0];
    const opts = { useBatchnorm: this.useBatchnorm, attentionType: this.attentionType };
    this.decoderChannels.forEach((out, i) => {
      x = unetBlock(x, i < skips.length ? [skips[i]] : [], `${this.prefix}.blocks.${i}`, out, opts);
    });
    return x;
  }

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        decoderChannels: [...this.decoderChannels],
        useBatchnorm: this.useBatchnorm,
        attentionType: this.attentionType,
        prefix: this.prefix,
      },
    };
  }
}
