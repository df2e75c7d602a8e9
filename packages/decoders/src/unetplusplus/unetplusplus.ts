import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { registerDecoder, type Decoder, type DecoderArgs, type DecoderConfig } from '@busi/core';
import { checkAttentionType, checkRate, dropout2d, unetBlock, type AttentionType } from '../blocks';

/** Options of the Unet++ decoder (smp `UnetPlusPlus` defaults). */
export interface UnetPlusPlusDecoderArgs extends DecoderArgs {
  /** Output channels of the main-path blocks x_0_0 … x_0_depth, one per encoder stage. Default [256, 128, 64, 32, 16]. */
  decoderChannels?: readonly number[];
  /** BatchNorm after each block conv (else the convs get a bias). Default true. */
  useBatchnorm?: boolean;
  /** Attention in each block (smp's `decoder_attention_type`): 'scse' or null. Default null. */
  attentionType?: AttentionType;
  /** Older spelling of `attentionType`, still read from saved configurations. */
  attention?: AttentionType;
  /** Channel dropout on the decoder output. Not part of the reference (smp's Unet++ has none): default 0. */
  dropout?: number;
}

/**
 * smp's Unet++ decoder: a grid of Unet blocks `x_{d}_{l}` with dense skip connections. Only the
 * main path x_0_l uses `decoderChannels`; a nested node x_d_l (d ≥ 1) outputs the width of the
 * encoder skip at its resolution, which makes this decoder heavy on ResNet encoders.
 */
export class UnetPlusPlusDecoder implements Decoder {
  readonly name = 'unetplusplus';
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;
  readonly encoderChannels: readonly number[];
  readonly decoderChannels: readonly number[];
  readonly useBatchnorm: boolean;
  readonly attentionType: AttentionType;
  readonly dropout: number;
  readonly prefix: string;

  constructor(args: UnetPlusPlusDecoderArgs) {
    this.encoderChannels = [...args.encoderChannels];
    this.decoderChannels = [...(args.decoderChannels ?? [256, 128, 64, 32, 16])];
    this.useBatchnorm = args.useBatchnorm ?? true;
    this.attentionType = args.attentionType ?? args.attention ?? null;
    checkAttentionType('UnetPlusPlusDecoder', this.attentionType);
    this.dropout = args.dropout ?? 0;
    this.prefix = args.prefix ?? 'decoder';
    checkRate('UnetPlusPlusDecoder', this.dropout);
    const depth = this.encoderChannels.length - 1;
    if (depth < 1) throw new Error('UnetPlusPlusDecoder: encoderChannels must list the input and at least one stage');
    if (this.decoderChannels.length !== depth) {
      throw new Error(
        `UnetPlusPlusDecoder: decoderChannels has ${this.decoderChannels.length} entries but the encoder has ${depth} stages ` +
          `(encoderChannels [${this.encoderChannels.join(', ')}])`,
      );
    }
    this.outChannels = this.decoderChannels[depth - 1];
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    const depth = this.decoderChannels.length;
    if (features.length !== depth + 1) {
      throw new Error(`UnetPlusPlusDecoder: expected ${depth + 1} encoder features (input first), got ${features.length}`);
    }
    // Deepest first, the stride-1 input dropped: f[0] is the head, f[i] the skip feeding level i.
    const f = features.slice(1).reverse();
    const skipWidth = this.encoderChannels.slice(1).reverse(); // skipWidth[i + 1]: width of f[i + 1]
    const opts = { useBatchnorm: this.useBatchnorm, attentionType: this.attentionType };
    const node = new Map<string, SymbolicTensor>();
    const block = (d: number, l: number, x: SymbolicTensor, skips: SymbolicTensor[]) => {
      const width = d === 0 ? this.decoderChannels[l] : skipWidth[l + 1];
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
    return dropout2d(node.get(`0_${last}`)!, `${this.prefix}.dropout`, this.dropout);
  }

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        decoderChannels: [...this.decoderChannels],
        useBatchnorm: this.useBatchnorm,
        attentionType: this.attentionType,
        dropout: this.dropout,
        prefix: this.prefix,
      },
    };
  }
}

const factory = (args: DecoderArgs & Record<string, unknown>) => new UnetPlusPlusDecoder(args as UnetPlusPlusDecoderArgs);
registerDecoder('unetplusplus', factory, {
  encoderOutputStride: 32,
  aliases: ['unet++'],
  reference: { library: 'smp', name: 'UnetPlusPlus', params: { resnet50: 25_477_568, resnext50_32x4d: 25_477_568, 'tu-wide_resnet50_2': 25_477_568, 'efficientnet-b4': 3_264_352 }, segmentationHeadParams: 145 },
  deterministicArgs: { dropout: 0 },
});
