import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d } from '../layers/conv2d';
import { Resize } from '../layers/resize';

/** Constructor arguments of {@link SegmentationHead}. */
export interface SegmentationHeadArgs {
  /** Mask channels (1 for one binary tumour mask, as the paper). Default 1. */
  classes?: number;
  /** Conv kernel size (3 for Unet/Unet++, 1 for FPN/DeepLabV3+). Default 3. */
  kernelSize?: number;
  /** Bilinear (align_corners=true) up-sampling factor after the conv; 1 for none. Default 1. */
  upsampling?: number;
  /** Layer-name prefix (PyTorch module path). Default 'segmentation_head'. */
  prefix?: string;
}

/** conv (bias, padding k//2) → optional bilinear up-sampling → mask logits (no activation). */
export class SegmentationHead {
  /** Mask channels: the channels of the logits. */
  readonly classes: number;
  /** Conv kernel size (padded by `kernelSize // 2`, so the size is kept). */
  readonly kernelSize: number;
  /** Bilinear up-sampling factor after the conv; 1: none. */
  readonly upsampling: number;
  /** Layer-name prefix; the layers are `<prefix>.0` (conv) and `<prefix>.1` (up-sampling), smp's `nn.Sequential` indices. */
  readonly prefix: string;

  constructor(args: SegmentationHeadArgs = {}) {
    this.classes = args.classes ?? 1;
    this.kernelSize = args.kernelSize ?? 3;
    this.upsampling = args.upsampling ?? 1;
    this.prefix = args.prefix ?? 'segmentation_head';
  }

  /** Builds the head on the decoder's output map (NHWC) and returns `[batch, h·upsampling, w·upsampling, classes]` mask logits. Each call creates fresh layers. */
  apply(x: SymbolicTensor): SymbolicTensor {
    let y = new Conv2d({
      name: `${this.prefix}.0`,
      filters: this.classes,
      kernelSize: this.kernelSize,
      padding: Math.floor(this.kernelSize / 2),
    }).apply(x) as SymbolicTensor;
    if (this.upsampling > 1) {
      y = new Resize({ name: `${this.prefix}.1`, scale: this.upsampling, mode: 'bilinear', alignCorners: true }).apply(
        y,
      ) as SymbolicTensor;
    }
    return y;
  }

  /** Every constructor argument, defaults filled in, so `new SegmentationHead(head.getConfig())` rebuilds it. */
  getConfig(): Required<SegmentationHeadArgs> {
    return { classes: this.classes, kernelSize: this.kernelSize, upsampling: this.upsampling, prefix: this.prefix };
  }
}
