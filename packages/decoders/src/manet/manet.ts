import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, DecoderBase, Resize, registerDecoder, type DecoderArgs } from '@busi/core';
import { conv2dReLU, perStageChannels, squeezeExcitationGate, unetBlock } from '../blocks';
import { PositionAttentionMap } from './position-attention';

/** The options of {@link MAnetDecoder} (smp's `MAnet` `decoder_*` arguments). */
export interface MAnetDecoderOptions {
  /** Output channels of each block, deepest first; one per encoder stage (the default is cut to a shallower encoder's depth). */
  decoderChannels: readonly number[];
  /** Conv → BatchNorm → ReLU (true) or biased conv → ReLU (false). */
  useBatchnorm: boolean;
  /** Width of the position-attention block's query and key maps. */
  pabChannels: number;
  /** Channel reduction of the fusion blocks' squeeze-excitation gates. */
  reduction: number;
}

/** smp's MAnet defaults (also the registry entry's `defaults`). */
export const MANET_DEFAULTS: Readonly<MAnetDecoderOptions> = { decoderChannels: [256, 128, 64, 32, 16], useBatchnorm: true, pabChannels: 64, reduction: 16 };

/** Arguments of {@link MAnetDecoder}: the encoder's channel list and any of {@link MAnetDecoderOptions}. */
export interface MAnetDecoderArgs extends DecoderArgs, Partial<MAnetDecoderOptions> {}

/**
 * smp's MAnet decoder (Fan et al. 2020): a position-wise attention block (PAB) on the deepest
 * feature, then per encoder skip a multi-scale fusion attention block (MFAB: the coarse map is
 * convolved to the skip's width, up-sampled, gated by the sum of two squeeze-excitation gates,
 * concatenated with the skip and convolved twice); the last block has no skip and is a plain Unet
 * block. The stride-1 input feature is unused.
 */
export class MAnetDecoder extends DecoderBase<MAnetDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;

  constructor(args: MAnetDecoderArgs) {
    super('manet', args, MANET_DEFAULTS);
    this.setOption('decoderChannels', perStageChannels(this.name, this.encoderChannels, args.decoderChannels, MANET_DEFAULTS.decoderChannels));
    this.checkPositiveIntegers('pabChannels', 'reduction');
    this.outChannels = this.options.decoderChannels[this.encoderDepth - 1];
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const maps = features.slice(1).reverse();
    const skips = maps.slice(1);
    let x = this.positionAttention(maps[0], `${this.prefix}.center`);
    this.options.decoderChannels.forEach((out, i) => {
      const name = `${this.prefix}.blocks.${i}`;
      x = i < skips.length
        ? this.fusionBlock(x, skips[i], name, out)
        : unetBlock(x, [], name, out, { useBatchnorm: this.options.useBatchnorm });
    });
    return x;
  }

  /** smp's PAB: `x + attention(top, center, bottom convs)`, then a 3×3 conv (`out_conv`). */
  private positionAttention(x: SymbolicTensor, name: string): SymbolicTensor {
    const c = x.shape[3]!;
    const conv = (n: string, filters: number, kernelSize: number) =>
      new Conv2d({ name: `${name}.${n}`, filters, kernelSize, padding: (kernelSize - 1) / 2 }).apply(x) as SymbolicTensor;
    const top = conv('top_conv', this.options.pabChannels, 1);
    const center = conv('center_conv', this.options.pabChannels, 1);
    const bottom = conv('bottom_conv', c, 3);
    const attended = new PositionAttentionMap({ name: `${name}.map` }).apply([top, center, bottom]) as SymbolicTensor;
    const y = layers.add({ name: `${name}.add` }).apply([x, attended]) as SymbolicTensor;
    return new Conv2d({ name: `${name}.out_conv`, filters: c, kernelSize: 3, padding: 1 }).apply(y) as SymbolicTensor;
  }

  /** smp's MFAB: `hl_conv` (3×3 then 1×1 conv-BN-ReLU to the skip width), ×2 nearest, gate by SE_hl + SE_ll, concat the skip, conv1, conv2. */
  private fusionBlock(x: SymbolicTensor, skip: SymbolicTensor, name: string, outChannels: number): SymbolicTensor {
    const cin = x.shape[3]!;
    const skipChannels = skip.shape[3]!;
    const { useBatchnorm } = this.options;
    let y = conv2dReLU(x, `${name}.hl_conv.0`, cin, { kernelSize: 3, useBatchnorm });
    y = conv2dReLU(y, `${name}.hl_conv.1`, skipChannels, { kernelSize: 1, useBatchnorm });
    y = new Resize({ name: `${name}.up`, scale: 2, mode: 'nearest' }).apply(y) as SymbolicTensor;
    const reduced = Math.max(1, Math.floor(skipChannels / this.options.reduction));
    const high = squeezeExcitationGate(y, `${name}.SE_hl`, reduced);
    const low = squeezeExcitationGate(skip, `${name}.SE_ll`, reduced);
    const gate = layers.add({ name: `${name}.gate` }).apply([high, low]) as SymbolicTensor;
    y = layers.multiply({ name: `${name}.gated` }).apply([y, gate]) as SymbolicTensor;
    y = layers.concatenate({ name: `${name}.cat`, axis: -1 }).apply([y, skip]) as SymbolicTensor;
    y = conv2dReLU(y, `${name}.conv1`, outChannels, { useBatchnorm });
    return conv2dReLU(y, `${name}.conv2`, outChannels, { useBatchnorm });
  }
}

registerDecoder('manet', (args) => new MAnetDecoder(args as MAnetDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'MAnet', params: { resnet50: 123_931_816, resnext50_32x4d: 123_931_816, 'tu-wide_resnet50_2': 123_931_816, 'efficientnet-b4': 8_078_692 }, segmentationHeadParams: 145 },
  defaults: MANET_DEFAULTS,
  description: 'Multi-scale attention net: position-wise attention on the deepest feature, multi-scale fusion attention per skip',
});
