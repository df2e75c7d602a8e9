import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { AdaptiveAvgPool2d, DecoderBase, Resize, UnusedWeights, heldBatchNorm2d, heldConv2d, registerDecoder, type DecoderArgs } from '@busi/core';
import { conv2dReLU } from '../blocks';

/** The pyramid pooling module's bin counts per side (smp fixes them). */
export const UPERNET_POOL_SIZES = [1, 2, 3, 6] as const;

/** The options of {@link UPerNetDecoder} (smp 0.4's `UPerNet` `decoder_*` arguments). */
export interface UPerNetDecoderOptions {
  /** Channels of the pyramid pooling output and of every FPN level (`decoder_pyramid_channels`). */
  pyramidChannels: number;
  /** Channels of the fused map the segmentation head sees (`decoder_segmentation_channels`). */
  segmentationChannels: number;
}

/** smp 0.4's UPerNet defaults (also the registry entry's `defaults`). */
export const UPERNET_DEFAULTS: Readonly<UPerNetDecoderOptions> = { pyramidChannels: 256, segmentationChannels: 64 };

/** Arguments of {@link UPerNetDecoder}: the encoder's channel list and any of {@link UPerNetDecoderOptions}. */
export interface UPerNetDecoderArgs extends DecoderArgs, Partial<UPerNetDecoderOptions> {}

/**
 * smp 0.4's UPerNet decoder (Xiao et al. 2018, unified perceptual parsing), as released in
 * segmentation_models.pytorch v0.4.0: a pyramid pooling module on the deepest feature (1/2/3/6-bin
 * average pooling, each 1×1 conv-BN-ReLU to a quarter of the channels, resized back and
 * concatenated with the feature, then a 1×1 conv-BN-ReLU), a top-down FPN that adds a 1×1
 * conv-BN-ReLU of each shallower feature down to stride 2, every level resized to stride 4 and
 * fused by a 3×3 conv-BN-ReLU. Resizes are bilinear with half-pixel centres (align_corners false).
 *
 * smp builds one more lateral conv, on the input-resolution feature, that never runs; its weights are
 * held as unused (see `UnusedWeights` in @busi/core) so counts and state dicts equal the reference's.
 */
export class UPerNetDecoder extends DecoderBase<UPerNetDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride = 4;
  readonly headKernelSize = 1;

  constructor(args: UPerNetDecoderArgs) {
    super('upernet', args, UPERNET_DEFAULTS, { minDepth: 3, why: 'a stride-4 level to fuse at' });
    this.checkPositiveIntegers('pyramidChannels', 'segmentationChannels');
    if (this.encoderChannels[this.encoderDepth] < UPERNET_POOL_SIZES.length) {
      this.fail(`the deepest feature needs at least ${UPERNET_POOL_SIZES.length} channels, got channels [${this.encoderChannels.join(', ')}]`);
    }
    this.outChannels = this.options.segmentationChannels;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const [, ...deepToShallow] = features;
    deepToShallow.reverse();
    const levels = [this.pyramidPooling(deepToShallow[0], `${p}.psp`)];
    deepToShallow.slice(1).forEach((skip, i) => levels.push(this.topDown(levels[levels.length - 1], skip, `${p}.fpn_stages.${i}`)));
    // Every level at stride 4 (the stride-2 level is resized down), the shallowest last.
    const strideFour = features[2];
    const resized = levels.map((x, i) => new Resize({ name: `${p}.fuse_resize.${i}`, mode: 'bilinear' }).apply([x, strideFour]) as SymbolicTensor);
    const cat = layers.concatenate({ name: `${p}.fuse_cat`, axis: -1 }).apply(resized) as SymbolicTensor;
    const fused = conv2dReLU(cat, `${p}.fpn_bottleneck`, this.outChannels, { kernelSize: 3 });
    return this.unusedInputStage(fused, `${p}.fpn_stages.${levels.length - 1}`);
  }

  /** smp's PSPModule: pooled branches (BatchNorm on every one, the 1×1 bin too) concatenated after the feature itself. */
  private pyramidPooling(x: SymbolicTensor, name: string): SymbolicTensor {
    const branchChannels = Math.floor(x.shape[3]! / UPERNET_POOL_SIZES.length);
    const branches = UPERNET_POOL_SIZES.map((size, i) => {
      const b = `${name}.blocks.${i}`;
      let y = new AdaptiveAvgPool2d({ name: `${b}.0`, outputSize: size }).apply(x) as SymbolicTensor;
      y = conv2dReLU(y, `${b}.1`, branchChannels, { kernelSize: 1 });
      return new Resize({ name: `${b}.up`, mode: 'bilinear' }).apply([y, x]) as SymbolicTensor;
    });
    const cat = layers.concatenate({ name: `${name}.cat`, axis: -1 }).apply([x, ...branches]) as SymbolicTensor;
    return conv2dReLU(cat, `${name}.out_conv`, this.options.pyramidChannels, { kernelSize: 1 });
  }

  /** smp 0.4's FPNBlock: the coarser level resized to the skip's size plus a 1×1 conv-BN-ReLU of the skip. */
  private topDown(x: SymbolicTensor, skip: SymbolicTensor, name: string): SymbolicTensor {
    const up = new Resize({ name: `${name}.up`, mode: 'bilinear' }).apply([x, skip]) as SymbolicTensor;
    const lateral = conv2dReLU(skip, `${name}.skip_conv`, this.options.pyramidChannels, { kernelSize: 1 });
    return layers.add({ name: `${name}.add` }).apply([up, lateral]) as SymbolicTensor;
  }

  /** The lateral conv-BN smp builds for the input-resolution feature and never runs. */
  private unusedInputStage(x: SymbolicTensor, name: string): SymbolicTensor {
    const cin = this.encoderChannels[0];
    const c = this.options.pyramidChannels;
    const conv = new UnusedWeights({ name: `${name}.skip_conv.0`, held: heldConv2d('', { kernelSize: 1, inChannels: cin, filters: c }) });
    const bn = new UnusedWeights({ name: `${name}.skip_conv.1`, held: heldBatchNorm2d('', c) });
    return bn.apply(conv.apply(x)) as SymbolicTensor;
  }
}

registerDecoder('upernet', (args) => new UPerNetDecoder(args as UPerNetDecoderArgs), {
  encoderOutputStride: 32,
  minTrainingBatch: 2,
  reference: {
    library: 'smp',
    version: '0.4.0',
    name: 'UPerNet',
    params: { resnet50: 6_463_360, resnext50_32x4d: 6_463_360, 'tu-wide_resnet50_2': 6_463_360, 'efficientnet-b4': 1_248_000 },
    segmentationHeadParams: 65,
  },
  defaults: UPERNET_DEFAULTS,
  description: 'Unified perceptual parsing (smp 0.4.0): pyramid pooling on the deepest feature, a top-down FPN down to stride 2, levels fused at stride 4',
});
