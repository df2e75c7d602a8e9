import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, DecoderBase, GroupNorm, Resize, registerDecoder, type DecoderArgs } from '@busi/core';
import { dropout2d } from '../blocks';

/** The options of {@link FPNDecoder} (smp's `FPN` `decoder_*` arguments and `upsampling`). */
export interface FPNDecoderOptions {
  /** Channels of the pyramid maps p5 … p2. */
  pyramidChannels: number;
  /** Channels of each segmentation branch (GroupNorm uses 32 groups, so a multiple of 32). */
  segmentationChannels: number;
  /** How the four branches are merged: summed ('add') or concatenated ('cat', 4× the channels). */
  mergePolicy: 'add' | 'cat';
  /** Channel dropout (PyTorch Dropout2d) after the merge; 0 disables it. */
  dropout: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). */
  upsampling: number;
}

/** smp's FPN defaults (also the registry entry's `defaults`). */
export const FPN_DEFAULTS: Readonly<FPNDecoderOptions> = { pyramidChannels: 256, segmentationChannels: 128, mergePolicy: 'add', dropout: 0.2, upsampling: 4 };

/** Arguments of {@link FPNDecoder}: the encoder's channel list and any of {@link FPNDecoderOptions}. */
export interface FPNDecoderArgs extends DecoderArgs, Partial<FPNDecoderOptions> {}

/**
 * smp's FPN decoder: a top-down pyramid (1×1 lateral convs, nearest ×2) on the stride 4…32
 * features, one Conv3×3-GroupNorm-ReLU branch per level up-sampled (bilinear, align_corners) to
 * stride 4, merged, then channel dropout. The stride-2 feature is unused.
 */
export class FPNDecoder extends DecoderBase<FPNDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;

  constructor(args: FPNDecoderArgs) {
    super('fpn', args, FPN_DEFAULTS, { minDepth: 4, why: 'features at strides 4..32' });
    this.checkRates('dropout');
    this.checkChoice('mergePolicy', ['add', 'cat']);
    this.checkPositiveIntegers('pyramidChannels', 'segmentationChannels', 'upsampling');
    const { segmentationChannels, mergePolicy, upsampling } = this.options;
    if (segmentationChannels % 32 !== 0) this.fail(`segmentationChannels must be a multiple of 32 (GroupNorm(32)), got ${segmentationChannels}`);
    this.outChannels = mergePolicy === 'add' ? segmentationChannels : 4 * segmentationChannels;
    this.outputStride = upsampling;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const [c2, c3, c4, c5] = features.slice(-4);
    const p5 = new Conv2d({ name: `${p}.p5`, filters: this.options.pyramidChannels, kernelSize: 1 }).apply(c5) as SymbolicTensor;
    const p4 = this.topDown(p5, c4, `${p}.p4`);
    const p3 = this.topDown(p4, c3, `${p}.p3`);
    const p2 = this.topDown(p3, c2, `${p}.p2`);
    const branches = [p5, p4, p3, p2].map((x, i) => this.segmentationBlock(x, `${p}.seg_blocks.${i}`, 3 - i));
    const merged =
      this.options.mergePolicy === 'add'
        ? (layers.add({ name: `${p}.merge` }).apply(branches) as SymbolicTensor)
        : (layers.concatenate({ name: `${p}.merge`, axis: -1 }).apply(branches) as SymbolicTensor);
    return dropout2d(merged, `${p}.dropout`, this.options.dropout);
  }

  /** FPNBlock: nearest ×2 of the coarser level plus a 1×1 lateral conv (with bias) of the skip. */
  private topDown(x: SymbolicTensor, skip: SymbolicTensor, name: string): SymbolicTensor {
    const up = new Resize({ name: `${name}.up`, scale: 2, mode: 'nearest' }).apply(x) as SymbolicTensor;
    const lateral = new Conv2d({ name: `${name}.skip_conv`, filters: this.options.pyramidChannels, kernelSize: 1 }).apply(skip) as SymbolicTensor;
    return layers.add({ name: `${name}.add` }).apply([up, lateral]) as SymbolicTensor;
  }

  /** `max(1, n)` Conv3×3-GN-ReLU units, each followed by bilinear ×2 (align_corners) when n > 0. */
  private segmentationBlock(x: SymbolicTensor, name: string, nUpsamples: number): SymbolicTensor {
    let y = x;
    for (let i = 0; i < Math.max(1, nUpsamples); i++) {
      const unit = `${name}.block.${i}`;
      y = new Conv2d({ name: `${unit}.block.0`, filters: this.options.segmentationChannels, kernelSize: 3, padding: 1, useBias: false }).apply(y) as SymbolicTensor;
      y = new GroupNorm({ name: `${unit}.block.1`, groups: 32 }).apply(y) as SymbolicTensor;
      y = layers.reLU({ name: `${unit}.block.2` }).apply(y) as SymbolicTensor;
      if (nUpsamples > 0) {
        y = new Resize({ name: `${unit}.up`, scale: 2, mode: 'bilinear', alignCorners: true }).apply(y) as SymbolicTensor;
      }
    }
    return y;
  }
}

registerDecoder('fpn', (args) => new FPNDecoder(args as FPNDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'FPN', params: { resnet50: 2_607_872, resnext50_32x4d: 2_607_872, 'tu-wide_resnet50_2': 2_607_872, 'efficientnet-b4': 1_803_008 }, segmentationHeadParams: 129 },
  defaults: FPN_DEFAULTS,
  deterministicArgs: { dropout: 0 },
  description: 'Feature pyramid network: top-down 1×1 laterals, one Conv-GroupNorm-ReLU branch per level merged at stride 4',
});
