import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  Conv2d,
  Resize,
  TORCH_DEFAULT_DECODER_AND_HEADS_INIT,
  registerDecoder,
  type Decoder,
  type DecoderArgs,
  type DecoderConfig,
} from '@busi/core';
import { aspp, bnRelu, checkRate, separableConv2d } from '../blocks';

/** Options of the DeepLabV3+ decoder (smp `DeepLabV3Plus` defaults). */
export interface DeepLabV3PlusDecoderArgs extends DecoderArgs {
  /** Channels of the ASPP branches and of the decoder output. Default 256. */
  decoderChannels?: number;
  /** Dilation rates of the three separable ASPP branches. Default [12, 24, 36]. */
  atrousRates?: readonly [number, number, number];
  /** Output stride of the (dilated) encoder. Only smp's default 16 is supported here (DeepLabV3 is the stride-8 decoder). Default 16. */
  outputStride?: 16;
  /** Dropout after the ASPP projection (element-wise, PyTorch Dropout); 0 disables it. Default 0.5. */
  dropout?: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). Default 4. */
  upsampling?: number;
}

/**
 * smp's DeepLabV3+ decoder: a separable ASPP (1×1, three dilated depthwise-separable 3×3, image
 * pooling) on the deepest feature, projected and up-sampled to stride 4, fused with a 48-channel
 * projection of the stride-4 feature by a separable 3×3.
 *
 * Training needs a batch of at least 2: the image-pooling BatchNorm sees one value per channel and
 * sample, and `BatchNorm2d` throws in training for a single value (as PyTorch does). Use batch ≥ 2
 * and drop a final batch of one (`dropLast`).
 */
export class DeepLabV3PlusDecoder implements Decoder {
  readonly name = 'deeplabv3plus';
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;
  /** smp v0.3.3's DeepLabV3Plus never calls `initialize()`: decoder and heads keep PyTorch's defaults. */
  readonly initialization = TORCH_DEFAULT_DECODER_AND_HEADS_INIT;
  readonly encoderChannels: readonly number[];
  readonly atrousRates: readonly [number, number, number];
  readonly encoderOutputStride: 16;
  readonly dropout: number;
  readonly prefix: string;

  constructor(args: DeepLabV3PlusDecoderArgs) {
    this.encoderChannels = [...args.encoderChannels];
    this.outChannels = args.decoderChannels ?? 256;
    this.atrousRates = [...(args.atrousRates ?? [12, 24, 36])] as [number, number, number];
    this.encoderOutputStride = args.outputStride ?? 16;
    this.dropout = args.dropout ?? 0.5;
    this.outputStride = args.upsampling ?? 4;
    this.prefix = args.prefix ?? 'decoder';
    checkRate('DeepLabV3PlusDecoder', this.dropout);
    if (this.encoderOutputStride !== 16) {
      throw new Error(`DeepLabV3PlusDecoder: outputStride must be 16 (encoders dilate to stride 16 only), got ${String(this.encoderOutputStride)}`);
    }
    if (this.atrousRates.length !== 3) {
      throw new Error(`DeepLabV3PlusDecoder: atrousRates must hold 3 rates, got [${this.atrousRates.join(', ')}]`);
    }
    if (this.encoderChannels.length < 4) {
      throw new Error(`DeepLabV3PlusDecoder: needs an encoder of depth >= 3, got channels [${this.encoderChannels.join(', ')}]`);
    }
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (features.length !== this.encoderChannels.length) {
      throw new Error(`DeepLabV3PlusDecoder: expected ${this.encoderChannels.length} encoder features, got ${features.length}`);
    }
    const p = this.prefix;
    const c = this.outChannels;
    let x = aspp(features[features.length - 1], `${p}.aspp.0`, {
      channels: c,
      atrousRates: this.atrousRates,
      separable: true,
      dropout: this.dropout,
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

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        decoderChannels: this.outChannels,
        atrousRates: [...this.atrousRates],
        outputStride: this.encoderOutputStride,
        dropout: this.dropout,
        upsampling: this.outputStride,
        prefix: this.prefix,
      },
    };
  }
}

registerDecoder('deeplabv3plus', (args) => new DeepLabV3PlusDecoder(args as DeepLabV3PlusDecoderArgs), {
  encoderOutputStride: 16,
  minTrainingBatch: 2,
  aliases: ['deeplabv3+'],
  reference: { library: 'smp', name: 'DeepLabV3Plus', params: { resnet50: 3_169_296, resnext50_32x4d: 3_169_296, 'tu-wide_resnet50_2': 3_169_296, 'efficientnet-b4': 1_067_344 }, segmentationHeadParams: 257 },
  deterministicArgs: { dropout: 0 },
});
