import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { DecoderBase, registerDecoder, type DecoderArgs } from '@busi/core';
import { ATTENTION_TYPES, dropout2d, unetBlock, type AttentionType } from '../blocks';

/** The options of {@link UnetPlusPlusDecoder} (smp's `UnetPlusPlus` `decoder_*` arguments). */
export interface UnetPlusPlusDecoderOptions {
  /** Output channels of the main-path blocks x_0_0 … x_0_depth, one per encoder stage. */
  decoderChannels: readonly number[];
  /** BatchNorm after each block conv (else the convs get a bias). */
  useBatchnorm: boolean;
  /** Attention in each block (smp's `decoder_attention_type`): 'scse' or null. */
  attentionType: AttentionType;
  /** Channel dropout on the decoder output. Not part of the reference (smp's Unet++ has none). */
  dropout: number;
}

/** smp's Unet++ defaults (also the registry entry's `defaults`). */
export const UNETPLUSPLUS_DEFAULTS: Readonly<UnetPlusPlusDecoderOptions> = { decoderChannels: [256, 128, 64, 32, 16], useBatchnorm: true, attentionType: null, dropout: 0 };

/** Arguments of {@link UnetPlusPlusDecoder}: the encoder's channel list and any of {@link UnetPlusPlusDecoderOptions}. */
export interface UnetPlusPlusDecoderArgs extends DecoderArgs, Partial<UnetPlusPlusDecoderOptions> {
  /** Older spelling of `attentionType`, still read from saved configurations. */
  attention?: AttentionType;
}

/**
 * smp's Unet++ decoder: a grid of Unet blocks `x_{d}_{l}` with dense skip connections. Only the
 * main path x_0_l uses `decoderChannels`; a nested node x_d_l (d ≥ 1) outputs the width of the
 * encoder skip at its resolution, which makes this decoder heavy on ResNet encoders.
 */
export class UnetPlusPlusDecoder extends DecoderBase<UnetPlusPlusDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;

  constructor(args: UnetPlusPlusDecoderArgs) {
    super('unetplusplus', args && { ...args, attentionType: args.attentionType ?? args.attention }, UNETPLUSPLUS_DEFAULTS);
    this.checkChoice('attentionType', ATTENTION_TYPES);
    this.checkRates('dropout');
    const { decoderChannels } = this.options;
    if (decoderChannels.length !== this.encoderDepth) {
      this.fail(
        `decoderChannels has ${decoderChannels.length} entries but the encoder has ${this.encoderDepth} stages ` +
          `(encoderChannels [${this.encoderChannels.join(', ')}])`,
      );
    }
    this.outChannels = decoderChannels[this.encoderDepth - 1];
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const depth = this.encoderDepth;
    const { decoderChannels, useBatchnorm, attentionType } = this.options;
    // Deepest first, the stride-1 input dropped: f[0] is the head, f[i] the skip feeding level i.
    const f = features.slice(1).reverse();
    const skipWidth = this.encoderChannels.slice(1).reverse(); // skipWidth[i + 1]: width of f[i + 1]
    const opts = { useBatchnorm, attentionType };
    const node = new Map<string, SymbolicTensor>();
    const block = (d: number, l: number, x: SymbolicTensor, skips: SymbolicTensor[]) => {
      const width = d === 0 ? decoderChannels[l] : skipWidth[l + 1];
      node.set(`${d}_${l}`, unetBlock(x, skips, `${this.prefix}.blocks.x_${d}_${l}`, width, opts));
    };
    // smp's evaluation order: the diagonal x_d_d first, then each further column.
    for (let l = 0; l < depth - 1; l++) {
      for (let d = 0; d < depth - 1 - l; d++) {
        const col = d + l;
        if (l === 0) block(d, col, f[d], [f[d + 1]]);
        else {
          const dense: SymbolicTensor[] = [];
          for (let k = d + 1; k <= col; k++) dense.push(node.get(`${k}_${col}`)!);
          block(d, col, node.get(`${d}_${col - 1}`)!, [...dense, f[col + 1]]);
        }
      }
    }
    const last = depth - 1;
    const x0 = depth === 1 ? f[0] : node.get(`0_${last - 1}`)!;
    block(0, last, x0, []);
    return dropout2d(node.get(`0_${last}`)!, `${this.prefix}.dropout`, this.options.dropout);
  }
}

const factory = (args: DecoderArgs & Record<string, unknown>) => new UnetPlusPlusDecoder(args as UnetPlusPlusDecoderArgs);
registerDecoder('unetplusplus', factory, {
  encoderOutputStride: 32,
  aliases: ['unet++'],
  reference: { library: 'smp', name: 'UnetPlusPlus', params: { resnet50: 25_477_568, resnext50_32x4d: 25_477_568, 'tu-wide_resnet50_2': 25_477_568, 'efficientnet-b4': 3_264_352 }, segmentationHeadParams: 145 },
  defaults: UNETPLUSPLUS_DEFAULTS,
  deterministicArgs: { dropout: 0 },
  description: 'Unet++: a grid of Unet blocks with dense skip connections between the encoder levels',
});
