import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, GroupNorm, Resize, registerDecoder, type Decoder, type DecoderArgs, type DecoderConfig } from '@busi/core';
import { checkRate, dropout2d } from '../blocks';

/** Options of the FPN decoder (smp `FPN` defaults). */
export interface FPNDecoderArgs extends DecoderArgs {
  /** Channels of the pyramid maps p5 … p2. Default 256. */
  pyramidChannels?: number;
  /** Channels of each segmentation branch (GroupNorm uses 32 groups, so a multiple of 32). Default 128. */
  segmentationChannels?: number;
  /** How the four branches are merged: summed ('add') or concatenated ('cat', 4× the channels). Default 'add'. */
  mergePolicy?: 'add' | 'cat';
  /** Channel dropout (PyTorch Dropout2d) after the merge; 0 disables it. Default 0.2. */
  dropout?: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). Default 4. */
  upsampling?: number;
}

/**
 * smp's FPN decoder: a top-down pyramid (1×1 lateral convs, nearest ×2) on the stride 4…32
 * features, one Conv3×3-GroupNorm-ReLU branch per level up-sampled (bilinear, align_corners) to
 * stride 4, merged, then channel dropout. The stride-2 feature is unused.
 */
export class FPNDecoder implements Decoder {
  readonly name = 'fpn';
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;
  readonly encoderChannels: readonly number[];
  readonly pyramidChannels: number;
  readonly segmentationChannels: number;
  readonly mergePolicy: 'add' | 'cat';
  readonly dropout: number;
  readonly prefix: string;

  constructor(args: FPNDecoderArgs) {
    this.encoderChannels = [...args.encoderChannels];
    this.pyramidChannels = args.pyramidChannels ?? 256;
    this.segmentationChannels = args.segmentationChannels ?? 128;
    this.mergePolicy = args.mergePolicy ?? 'add';
    this.dropout = args.dropout ?? 0.2;
    this.outputStride = args.upsampling ?? 4;
    this.prefix = args.prefix ?? 'decoder';
    checkRate('FPNDecoder', this.dropout);
    if (this.mergePolicy !== 'add' && this.mergePolicy !== 'cat') {
      throw new Error(`FPNDecoder: mergePolicy must be 'add' or 'cat', got '${String(this.mergePolicy)}'`);
    }
    if (this.encoderChannels.length < 5) {
      throw new Error(`FPNDecoder: needs an encoder of depth >= 4 (features at strides 4..32), got channels [${this.encoderChannels.join(', ')}]`);
    }
    if (this.segmentationChannels % 32 !== 0) {
      throw new Error(`FPNDecoder: segmentationChannels must be a multiple of 32 (GroupNorm(32)), got ${this.segmentationChannels}`);
    }
    this.outChannels = this.mergePolicy === 'add' ? this.segmentationChannels : 4 * this.segmentationChannels;
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (features.length !== this.encoderChannels.length) {
      throw new Error(`FPNDecoder: expected ${this.encoderChannels.length} encoder features, got ${features.length}`);
    }
    const p = this.prefix;
    const [c2, c3, c4, c5] = features.slice(-4);
    const p5 = new Conv2d({ name: `${p}.p5`, filters: this.pyramidChannels, kernelSize: 1 }).apply(c5) as SymbolicTensor;
    const p4 = this.topDown(p5, c4, `${p}.p4`);
    const p3 = this.topDown(p4, c3, `${p}.p3`);
    const p2 = this.topDown(p3, c2, `${p}.p2`);
    const branches = [p5, p4, p3, p2].map((x, i) => this.segmentationBlock(x, `${p}.seg_blocks.${i}`, 3 - i));
    const merged =
      this.mergePolicy === 'add'
        ? (layers.add({ name: `${p}.merge` }).apply(branches) as SymbolicTensor)
        : (layers.concatenate({ name: `${p}.merge`, axis: -1 }).apply(branches) as SymbolicTensor);
    return dropout2d(merged, `${p}.dropout`, this.dropout);
  }

  /** FPNBlock: nearest ×2 of the coarser level plus a 1×1 lateral conv (with bias) of the skip. */
  private topDown(x: SymbolicTensor, skip: SymbolicTensor, name: string): SymbolicTensor {
    const up = new Resize({ name: `${name}.up`, scale: 2, mode: 'nearest' }).apply(x) as SymbolicTensor;
    const lateral = new Conv2d({ name: `${name}.skip_conv`, filters: this.pyramidChannels, kernelSize: 1 }).apply(skip) as SymbolicTensor;
    return layers.add({ name: `${name}.add` }).apply([up, lateral]) as SymbolicTensor;
  }

  /** `max(1, n)` Conv3×3-GN-ReLU units, each followed by bilinear ×2 (align_corners) when n > 0. */
  private segmentationBlock(x: SymbolicTensor, name: string, nUpsamples: number): SymbolicTensor {
    let y = x;
    for (let i = 0; i < Math.max(1, nUpsamples); i++) {
      const unit = `${name}.block.${i}`;
      y = new Conv2d({ name: `${unit}.block.0`, filters: this.segmentationChannels, kernelSize: 3, padding: 1, useBias: false }).apply(y) as SymbolicTensor;
      y = new GroupNorm({ name: `${unit}.block.1`, groups: 32 }).apply(y) as SymbolicTensor;
      y = layers.reLU({ name: `${unit}.block.2` }).apply(y) as SymbolicTensor;
      if (nUpsamples > 0) {
        y = new Resize({ name: `${unit}.up`, scale: 2, mode: 'bilinear', alignCorners: true }).apply(y) as SymbolicTensor;
      }
    }
    return y;
  }

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        pyramidChannels: this.pyramidChannels,
        segmentationChannels: this.segmentationChannels,
        mergePolicy: this.mergePolicy,
        dropout: this.dropout,
        upsampling: this.outputStride,
        prefix: this.prefix,
      },
    };
  }
}

registerDecoder('fpn', (args) => new FPNDecoder(args as FPNDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'FPN', params: { resnet50: 2_607_872, resnext50_32x4d: 2_607_872, 'tu-wide_resnet50_2': 2_607_872, 'efficientnet-b4': 1_803_008 }, segmentationHeadParams: 129 },
  deterministicArgs: { dropout: 0 },
});
