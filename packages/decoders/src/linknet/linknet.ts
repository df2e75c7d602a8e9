import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, ConvTranspose2d, DecoderBase, registerDecoder, type DecoderArgs } from '@busi/core';
import { conv2dReLU } from '../blocks';

/** The options of {@link LinknetDecoder} (smp's `Linknet` arguments). */
export interface LinknetDecoderOptions {
  /** Channels of the last block's output (smp fixes it at 32). */
  prefinalChannels: number;
  /** BatchNorm after each conv and transposed conv (else biased convs). */
  useBatchnorm: boolean;
}

/** smp's Linknet defaults (also the registry entry's `defaults`). */
export const LINKNET_DEFAULTS: Readonly<LinknetDecoderOptions> = { prefinalChannels: 32, useBatchnorm: true };

/** Arguments of {@link LinknetDecoder}: the encoder's channel list and any of {@link LinknetDecoderOptions}. */
export interface LinknetDecoderArgs extends DecoderArgs, Partial<LinknetDecoderOptions> {}

/**
 * smp's Linknet decoder: one block per encoder stage, deepest first, each a 1×1 conv-BN-ReLU to a
 * quarter of its input channels, a 4×4 stride-2 transposed conv-BN-ReLU (×2 up-sampling) and a 1×1
 * conv-BN-ReLU to the next skip's width, then the skip is added. The last block (no skip) outputs
 * `prefinalChannels` at full resolution; the stride-1 input feature is unused.
 */
export class LinknetDecoder extends DecoderBase<LinknetDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 1;

  constructor(args: LinknetDecoderArgs) {
    super('linknet', args, LINKNET_DEFAULTS);
    this.checkPositiveIntegers('prefinalChannels');
    if (this.encoderChannels.slice(1).some((c) => c < 4)) {
      this.fail(`every encoder feature needs at least 4 channels (each block narrows by 4), got [${this.encoderChannels.join(', ')}]`);
    }
    this.outChannels = this.options.prefinalChannels;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const maps = features.slice(1).reverse();
    const widths = [...this.encoderChannels.slice(1).reverse(), this.options.prefinalChannels];
    let x = maps[0];
    for (let i = 0; i < maps.length; i++) {
      x = this.block(x, `${this.prefix}.blocks.${i}`, widths[i], widths[i + 1]);
      if (i + 1 < maps.length) x = layers.add({ name: `${this.prefix}.blocks.${i}.skip` }).apply([x, maps[i + 1]]) as SymbolicTensor;
    }
    return x;
  }

  /** smp's Linknet `DecoderBlock`: `block.0` 1×1 conv-BN-ReLU, `block.1` TransposeX2, `block.2` 1×1 conv-BN-ReLU. */
  private block(x: SymbolicTensor, name: string, inChannels: number, outChannels: number): SymbolicTensor {
    const mid = Math.floor(inChannels / 4);
    const { useBatchnorm } = this.options;
    const opts = { kernelSize: 1, useBatchnorm };
    let y = conv2dReLU(x, `${name}.block.0`, mid, opts);
    // TransposeX2: ConvTranspose2d(k4, s2, p1, biased) → BatchNorm → ReLU; without BatchNorm the ReLU is `.1`.
    const t = `${name}.block.1`;
    y = new ConvTranspose2d({ name: `${t}.0`, filters: mid, kernelSize: 4, strides: 2, padding: 1 }).apply(y) as SymbolicTensor;
    if (useBatchnorm) y = new BatchNorm2d({ name: `${t}.1` }).apply(y) as SymbolicTensor;
    y = layers.reLU({ name: `${t}.${useBatchnorm ? 2 : 1}` }).apply(y) as SymbolicTensor;
    return conv2dReLU(y, `${name}.block.2`, outChannels, opts);
  }
}

registerDecoder('linknet', (args) => new LinknetDecoder(args as LinknetDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'Linknet', params: { resnet50: 7_669_712, resnext50_32x4d: 7_669_712, 'tu-wide_resnet50_2': 7_669_712, 'efficientnet-b4': 313_922 }, segmentationHeadParams: 33 },
  defaults: LINKNET_DEFAULTS,
  description: 'Linknet: transposed-conv up-sampling blocks whose outputs are added to the encoder skips',
});
