import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, DecoderBase, Resize, TORCH_DEFAULT_DECODER_AND_HEADS_INIT, registerDecoder, type DecoderArgs } from '@busi/core';
import { aspp, bnRelu, separableConv2d } from '../blocks';

/** The options of {@link DeepLabV3PlusDecoder} (smp's `DeepLabV3Plus` arguments). */
export interface DeepLabV3PlusDecoderOptions {
  /** Channels of the ASPP branches and of the decoder output. */
  decoderChannels: number;
  /** Dilation rates of the three separable ASPP branches. */
  atrousRates: readonly [number, number, number];
  /** Output stride of the (dilated) encoder. Only smp's default 16 is supported here (DeepLabV3 is the stride-8 decoder). */
  outputStride: 16;
  /** Dropout after the ASPP projection (element-wise, PyTorch Dropout); 0 disables it. */
  dropout: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). */
  upsampling: number;
}

/** smp's DeepLabV3+ defaults (also the registry entry's `defaults`). */
export const DEEPLABV3PLUS_DEFAULTS: Readonly<DeepLabV3PlusDecoderOptions> = { decoderChannels: 256, atrousRates: [12, 24, 36], outputStride: 16, dropout: 0.5, upsampling: 4 };

/** Arguments of {@link DeepLabV3PlusDecoder}: the encoder's channel list and any of {@link DeepLabV3PlusDecoderOptions}. */
export interface DeepLabV3PlusDecoderArgs extends DecoderArgs, Partial<DeepLabV3PlusDecoderOptions> {}

/**
 * smp's DeepLabV3+ decoder: a separable ASPP (1×1, three dilated depthwise-separable 3×3, image
 * pooling) on the deepest feature, projected and up-sampled to stride 4, fused with a 48-channel
 * projection of the stride-4 feature by a separable 3×3.
 *
 * Training needs a batch of at least 2: the image-pooling BatchNorm sees one value per channel and
 * sample, and `BatchNorm2d` throws in training for a single value (as PyTorch does). Use batch ≥ 2
 * and drop a final batch of one (`dropLast`).
 */
export class DeepLabV3PlusDecoder extends DecoderBase<DeepLabV3PlusDecoderOptions> {
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;
  /** smp v0.3.3's DeepLabV3Plus never calls `initialize()`: decoder and heads keep PyTorch's defaults. */
  readonly initialization = TORCH_DEFAULT_DECODER_AND_HEADS_INIT;

  constructor(args: DeepLabV3PlusDecoderArgs) {
    super('deeplabv3plus', args, DEEPLABV3PLUS_DEFAULTS, { minDepth: 3, why: 'a stride-4 feature below the ASPP' });
    this.checkRates('dropout');
    this.checkPositiveIntegers('decoderChannels', 'upsampling');
    const { outputStride, atrousRates } = this.options;
    if (outputStride !== 16) this.fail(`outputStride must be 16 (encoders dilate to stride 16 only), got ${String(outputStride)}`);
    if (!Array.isArray(atrousRates) || atrousRates.length !== 3) this.fail(`atrousRates must hold 3 rates, got [${String(atrousRates)}]`);
    this.outChannels = this.options.decoderChannels;
    this.outputStride = this.options.upsampling;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const c = this.outChannels;
    let x = aspp(features[features.length - 1], `${p}.aspp.0`, {
      channels: c,
      atrousRates: this.options.atrousRates,
      separable: true,
      dropout: this.options.dropout,
    });
    x = bnRelu(separableConv2d(x, `${p}.aspp.1`, c), `${p}.aspp.2`, `${p}.aspp.3`);
    // From the stride-16 ASPP map to the stride-4 low-level map.
    x = new Resize({ name: `${p}.up`, scale: 4, mode: 'bilinear', alignCorners: true }).apply(x) as SymbolicTensor;

    let high = new Conv2d({ name: `${p}.block1.0`, filters: 48, kernelSize: 1, useBias: false }).apply(
      features[features.length - 4],
    ) as SymbolicTensor;
    high = bnRelu(high, `${p}.block1.1`, `${p}.block1.2`);

    const y = layers.concatenate({ name: `${p}.cat`, axis: -1 }).apply([x, high]) as SymbolicTensor;
    return bnRelu(separableConv2d(y, `${p}.block2.0`, c), `${p}.block2.1`, `${p}.block2.2`);
  }
}

registerDecoder('deeplabv3plus', (args) => new DeepLabV3PlusDecoder(args as DeepLabV3PlusDecoderArgs), {
  encoderOutputStride: 16,
  minTrainingBatch: 2,
  aliases: ['deeplabv3+'],
  reference: { library: 'smp', name: 'DeepLabV3Plus', params: { resnet50: 3_169_296, resnext50_32x4d: 3_169_296, 'tu-wide_resnet50_2': 3_169_296, 'efficientnet-b4': 1_067_344 }, segmentationHeadParams: 257 },
  defaults: DEEPLABV3PLUS_DEFAULTS,
  deterministicArgs: { dropout: 0 },
  description: 'DeepLabV3+: separable ASPP on the stride-16 feature, fused with a projection of the stride-4 feature',
});
