import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, DecoderBase, MaxPool2d, Resize, registerDecoder, type DecoderArgs } from '@busi/core';

/** The options of {@link PANDecoder} (smp's `PAN` arguments). */
export interface PANDecoderOptions {
  /** Channels of the attention blocks and of the decoder output. */
  decoderChannels: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). */
  upsampling: number;
}

/** smp's PAN defaults (also the registry entry's `defaults`). */
export const PAN_DEFAULTS: Readonly<PANDecoderOptions> = { decoderChannels: 32, upsampling: 4 };

/** Arguments of {@link PANDecoder}: the encoder's channel list and any of {@link PANDecoderOptions}. */
export interface PANDecoderArgs extends DecoderArgs, Partial<PANDecoderOptions> {}

/**
 * smp's PAN decoder (Li et al. 2018, Pyramid Attention Network) on an encoder dilated to output
 * stride 16: a feature pyramid attention block (FPA) on the deepest feature (a global-pooling
 * branch, a 1×1 branch, and a 7-5-3 pyramid of single-channel convs on ×2 max-pooled maps that
 * gates it), then three global attention up-sampling blocks (GAU) that fuse the stride 16, 8 and
 * 4 features. Resizes are bilinear with align_corners. The FPA pools the stride-16 map three
 * times, so inputs must be at least 128 pixels on each side.
 */
export class PANDecoder extends DecoderBase<PANDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 3;

  constructor(args: PANDecoderArgs) {
    super('pan', args, PAN_DEFAULTS, { minDepth: 4, why: 'features at strides 4..16' });
    this.checkPositiveIntegers('decoderChannels', 'upsampling');
    this.outChannels = this.options.decoderChannels;
    this.outputStride = this.options.upsampling;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const f = (k: number) => features[features.length - k];
    const x5 = this.fpa(f(1), `${p}.fpa`);
    const x4 = this.gau(f(2), x5, `${p}.gau3`);
    const x3 = this.gau(f(3), x4, `${p}.gau2`);
    return this.gau(f(4), x3, `${p}.gau1`);
  }

  /** smp's FPABlock. */
  private fpa(x: SymbolicTensor, name: string): SymbolicTensor {
    const c = this.outChannels;
    const up = (y: SymbolicTensor, like: SymbolicTensor, n: string) =>
      new Resize({ name: `${name}.${n}`, mode: 'bilinear', alignCorners: true }).apply([y, like]) as SymbolicTensor;
    const pool = (y: SymbolicTensor, n: string) => new MaxPool2d({ name: `${name}.${n}`, poolSize: 2, strides: 2 }).apply(y) as SymbolicTensor;
    let b1 = layers.globalAveragePooling2d({ name: `${name}.branch1.0` }).apply(x) as SymbolicTensor;
    b1 = layers.reshape({ name: `${name}.branch1.0.keepdims`, targetShape: [1, 1, x.shape[3]!] }).apply(b1) as SymbolicTensor;
    b1 = up(convBnRelu(b1, `${name}.branch1.1`, c, 1), x, 'branch1.up');
    const mid = convBnRelu(x, `${name}.mid.0`, c, 1);
    const x1 = convBnRelu(pool(x, 'down1.0'), `${name}.down1.1`, 1, 7);
    const x2 = convBnRelu(pool(x1, 'down2.0'), `${name}.down2.1`, 1, 5);
    let x3 = convBnRelu(pool(x2, 'down3.0'), `${name}.down3.1`, 1, 3);
    x3 = up(convBnRelu(x3, `${name}.down3.2`, 1, 3), x2, 'down3.up');
    let y = layers.add({ name: `${name}.add2` }).apply([convBnRelu(x2, `${name}.conv2`, 1, 5), x3]) as SymbolicTensor;
    y = up(y, x1, 'up2');
    y = layers.add({ name: `${name}.add1` }).apply([y, convBnRelu(x1, `${name}.conv1`, 1, 7)]) as SymbolicTensor;
    y = up(y, x, 'up1');
    y = layers.multiply({ name: `${name}.gate` }).apply([y, mid]) as SymbolicTensor;
    return layers.add({ name: `${name}.add0` }).apply([y, b1]) as SymbolicTensor;
  }

  /** smp's GAUBlock on the low-level `x` and high-level `y`: `up(y) + conv2(x) · sigmoid(conv1(pool(y)))`. */
  private gau(x: SymbolicTensor, y: SymbolicTensor, name: string): SymbolicTensor {
    const c = this.outChannels;
    const yUp = new Resize({ name: `${name}.up`, mode: 'bilinear', alignCorners: true }).apply([y, x]) as SymbolicTensor;
    const low = convBnRelu(x, `${name}.conv2`, c, 3);
    let g = layers.globalAveragePooling2d({ name: `${name}.conv1.0` }).apply(y) as SymbolicTensor;
    g = layers.reshape({ name: `${name}.conv1.0.keepdims`, targetShape: [1, 1, c] }).apply(g) as SymbolicTensor;
    g = convBnRelu(g, `${name}.conv1.1`, c, 1, false);
    g = layers.activation({ name: `${name}.conv1.2`, activation: 'sigmoid' }).apply(g) as SymbolicTensor;
    const z = layers.multiply({ name: `${name}.gated` }).apply([low, g]) as SymbolicTensor;
    return layers.add({ name: `${name}.add` }).apply([yUp, z]) as SymbolicTensor;
  }
}

/**
 * PAN's own `ConvBnRelu` module `<name>`: a size-preserving biased conv (`.conv`), BatchNorm (`.bn`)
 * and, when `relu`, ReLU (`.activation`).
 */
function convBnRelu(x: SymbolicTensor, name: string, filters: number, kernelSize: number, relu = true): SymbolicTensor {
  let y = new Conv2d({ name: `${name}.conv`, filters, kernelSize, padding: (kernelSize - 1) / 2 }).apply(x) as SymbolicTensor;
  y = new BatchNorm2d({ name: `${name}.bn` }).apply(y) as SymbolicTensor;
  return relu ? (layers.reLU({ name: `${name}.activation` }).apply(y) as SymbolicTensor) : y;
}

registerDecoder('pan', (args) => new PANDecoder(args as PANDecoderArgs), {
  encoderOutputStride: 16,
  minTrainingBatch: 2,
  minInputSize: 128,
  reference: { library: 'smp', name: 'PAN', params: { resnet50: 751_495, resnext50_32x4d: 751_495, 'tu-wide_resnet50_2': 751_495, 'efficientnet-b4': 126_023 }, segmentationHeadParams: 289 },
  defaults: PAN_DEFAULTS,
  description: 'Pyramid attention network: feature pyramid attention on the stride-16 feature, global attention up-sampling',
});
