import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { AdaptiveAvgPool2d, DecoderBase, Resize, registerDecoder, type DecoderArgs } from '@busi/core';
import { conv2dReLU, dropout2d } from '../blocks';

/** The pyramid's bin counts per side (smp fixes them). */
export const PSP_POOL_SIZES = [1, 2, 3, 6] as const;

/** The options of {@link PSPNetDecoder} (smp's `PSPNet` `psp_*` arguments and `upsampling`). */
export interface PSPNetDecoderOptions {
  /** Channels of the decoder output (smp's `psp_out_channels`). */
  outChannels: number;
  /** BatchNorm in the pooling branches (except the 1×1 one) and the final conv (`psp_use_batchnorm`). */
  useBatchnorm: boolean;
  /** Channel dropout (PyTorch Dropout2d) on the output (`psp_dropout`); 0 disables it. */
  dropout: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). */
  upsampling: number;
}

/** smp's PSPNet defaults (also the registry entry's `defaults`). */
export const PSPNET_DEFAULTS: Readonly<PSPNetDecoderOptions> = { outChannels: 512, useBatchnorm: true, dropout: 0.2, upsampling: 8 };

/** Arguments of {@link PSPNetDecoder}: the encoder's channel list and any of {@link PSPNetDecoderOptions}. */
export interface PSPNetDecoderArgs extends DecoderArgs, Partial<PSPNetDecoderOptions> {}

/**
 * smp's PSPNet decoder (Zhao et al. 2017) on the deepest feature of a depth-3 encoder (stride 8):
 * a pyramid of adaptive average poolings to 1×1, 2×2, 3×3 and 6×6 bins, each a 1×1 conv-BN-ReLU to
 * a quarter of the channels (no BatchNorm on the 1×1 bin) resized back bilinearly (align_corners),
 * concatenated with the feature itself, then a 1×1 conv-BN-ReLU and channel dropout. The deepest
 * map must be at least 6×6 (input ≥ 48 at stride 8).
 */
export class PSPNetDecoder extends DecoderBase<PSPNetDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 3;

  constructor(args: PSPNetDecoderArgs) {
    super('pspnet', args, PSPNET_DEFAULTS);
    this.checkRates('dropout');
    this.checkPositiveIntegers('outChannels', 'upsampling');
    if (this.encoderChannels[this.encoderDepth] < PSP_POOL_SIZES.length) {
      this.fail(`the deepest feature needs at least ${PSP_POOL_SIZES.length} channels, got channels [${this.encoderChannels.join(', ')}]`);
    }
    this.outChannels = this.options.outChannels;
    this.outputStride = this.options.upsampling;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const x = features[features.length - 1];
    const branchChannels = Math.floor(x.shape[3]! / PSP_POOL_SIZES.length);
    const branches = PSP_POOL_SIZES.map((size, i) => {
      const b = `${p}.psp.blocks.${i}`;
      let y = new AdaptiveAvgPool2d({ name: `${b}.pool.0`, outputSize: size }).apply(x) as SymbolicTensor;
      // PyTorch cannot batch-normalise a 1×1 map in training, so smp drops that branch's BatchNorm.
      y = conv2dReLU(y, `${b}.pool.1`, branchChannels, { kernelSize: 1, useBatchnorm: this.options.useBatchnorm && size > 1 });
      return new Resize({ name: `${b}.up`, mode: 'bilinear', alignCorners: true }).apply([y, x]) as SymbolicTensor;
    });
    const cat = layers.concatenate({ name: `${p}.psp.cat`, axis: -1 }).apply([...branches, x]) as SymbolicTensor;
    const y = conv2dReLU(cat, `${p}.conv`, this.outChannels, { kernelSize: 1, useBatchnorm: this.options.useBatchnorm });
    return dropout2d(y, `${p}.dropout`, this.options.dropout);
  }
}

registerDecoder('pspnet', (args) => new PSPNetDecoder(args as PSPNetDecoderArgs), {
  encoderOutputStride: 32,
  encoderDepth: 3,
  reference: { library: 'smp', name: 'PSPNet', params: { resnet50: 788_352, resnext50_32x4d: 788_352, 'tu-wide_resnet50_2': 788_352, 'efficientnet-b4': 61_602 }, segmentationHeadParams: 4609 },
  defaults: PSPNET_DEFAULTS,
  deterministicArgs: { dropout: 0 },
  description: 'Pyramid scene parsing: 1/2/3/6-bin average-pooling pyramid on the stride-8 feature of a depth-3 encoder',
});
