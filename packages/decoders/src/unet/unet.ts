import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { DecoderBase, type DecoderArgs } from '@busi/core';
import { ATTENTION_TYPES, perStageChannels, unetBlock, type AttentionType } from '../blocks';

/** The options of {@link UnetDecoder} (smp's `decoder_*` arguments). */
export interface UnetDecoderOptions {
  /** Output channels of each block, deepest first; one block per encoder stage (the default is cut to a shallower encoder's depth). */
  decoderChannels: readonly number[];
  /** Conv → BatchNorm → ReLU (true) or conv with bias → ReLU (false). */
  useBatchnorm: boolean;
  /** Attention after the skip concatenation and after each block: null (none) or 'scse'. */
  attentionType: AttentionType;
}

/** smp's Unet defaults (also the registry entry's `defaults`). */
export const UNET_DEFAULTS: Readonly<UnetDecoderOptions> = { decoderChannels: [256, 128, 64, 32, 16], useBatchnorm: true, attentionType: null };

/** Arguments of {@link UnetDecoder}: the encoder's channel list and any of {@link UnetDecoderOptions}. */
export interface UnetDecoderArgs extends DecoderArgs, Partial<UnetDecoderOptions> {}

/**
 * smp's Unet decoder: per block, nearest ×2 up-sampling, concatenation with the encoder skip of that
 * resolution (stride 16, 8, 4, 2; the last block has none), optional scSE attention, then two
 * Conv3×3 → BN → ReLU ({@link unetBlock}). The stride-1 input feature is never used. smp's Unet has
 * no dropout, so a `dropout` argument is refused rather than ignored.
 */
export class UnetDecoder extends DecoderBase<UnetDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;

  constructor(args: UnetDecoderArgs) {
    super('unet', args, UNET_DEFAULTS);
    if ((args as { dropout?: unknown }).dropout !== undefined) {
      this.fail(`smp's Unet decoder has no dropout, got dropout ${String((args as { dropout?: unknown }).dropout)} (the classification head's is classificationHead.dropout)`);
    }
    this.setOption('decoderChannels', perStageChannels(this.name, this.encoderChannels, args.decoderChannels, UNET_DEFAULTS.decoderChannels));
    this.checkChoice('attentionType', ATTENTION_TYPES);
    this.outChannels = this.options.decoderChannels[this.encoderDepth - 1];
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    // Deepest first; the stride-1 input is dropped.
    const maps = features.slice(1).reverse();
    const skips = maps.slice(1);
    let x = maps[0];
    const { useBatchnorm, attentionType } = this.options;
    this.options.decoderChannels.forEach((out, i) => {
      x = unetBlock(x, i < skips.length ? [skips[i]] : [], `${this.prefix}.blocks.${i}`, out, { useBatchnorm, attentionType });
    });
    return x;
  }
}
