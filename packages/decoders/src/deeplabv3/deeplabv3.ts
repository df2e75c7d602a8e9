import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { TORCH_DEFAULT_DECODER_AND_HEADS_INIT, registerDecoder, type Decoder, type DecoderArgs, type DecoderConfig } from '@busi/core';
import { aspp, checkRate, conv2dReLU } from '../blocks';

/** Options of {@link DeepLabV3Decoder} (smp `DeepLabV3` defaults). */
export interface DeepLabV3DecoderArgs extends DecoderArgs {
  /** Channels of the ASPP branches and of the decoder output. Default 256. */
  decoderChannels?: number;
  /** Dilation rates of the three 3×3 ASPP branches (smp fixes them at 12, 24, 36). Default [12, 24, 36]. */
  atrousRates?: readonly [number, number, number];
  /** Dropout after the ASPP projection (element-wise, PyTorch Dropout; smp fixes it at 0.5); 0 disables it. Default 0.5. */
  dropout?: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). Default 8. */
  upsampling?: number;
}

/**
 * smp's DeepLabV3 decoder, an `nn.Sequential`: ASPP (`0`: 1×1, three dilated 3×3 and an
 * image-pooling branch, projected to `decoderChannels`) on the deepest feature of an encoder dilated
 * to output stride 8, then a 3×3 conv-BN-ReLU (`1`, `2`, `3`). Only the last feature is used.
 *
 * Training needs a batch of at least 2 (the image-pooling BatchNorm sees one value per channel
 * and sample, as in PyTorch).
 */
export class DeepLabV3Decoder implements Decoder {
  readonly name = 'deeplabv3';
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;
  /** smp v0.3.3's DeepLabV3, like DeepLabV3Plus, never calls `initialize()`: decoder and heads keep PyTorch's defaults (measured: fixtures/init-stats). */
  readonly initialization = TORCH_DEFAULT_DECODER_AND_HEADS_INIT;
  readonly encoderChannels: readonly number[];
  readonly atrousRates: readonly [number, number, number];
  readonly dropout: number;
  readonly prefix: string;

  constructor(args: DeepLabV3DecoderArgs) {
    this.encoderChannels = [...args.encoderChannels];
    this.outChannels = args.decoderChannels ?? 256;
    this.atrousRates = [...(args.atrousRates ?? [12, 24, 36])] as [number, number, number];
    this.dropout = args.dropout ?? 0.5;
    this.outputStride = args.upsampling ?? 8;
    this.prefix = args.prefix ?? 'decoder';
    checkRate('DeepLabV3Decoder', this.dropout);
    if (this.atrousRates.length !== 3 || this.atrousRates.some((r) => !Number.isInteger(r) || r < 1)) {
      throw new Error(`DeepLabV3Decoder: atrousRates must hold 3 positive integers, got [${this.atrousRates.join(', ')}]`);
    }
    if (!Number.isInteger(this.outChannels) || this.outChannels < 1) {
      throw new Error(`DeepLabV3Decoder: decoderChannels must be a positive integer, got ${this.outChannels}`);
    }
    if (this.encoderChannels.length < 2) throw new Error(`DeepLabV3Decoder: needs at least one encoder feature, got channels [${this.encoderChannels.join(', ')}]`);
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (features.length !== this.encoderChannels.length) {
      throw new Error(`DeepLabV3Decoder: expected ${this.encoderChannels.length} encoder features, got ${features.length}`);
    }
    const p = this.prefix;
    const x = aspp(features[features.length - 1], `${p}.0`, {
      channels: this.outChannels,
      atrousRates: this.atrousRates,
      separable: false,
      dropout: this.dropout,
    });
    // `1` conv (no bias), `2` BatchNorm, `3` ReLU: conv2dReLU's layout shifted by one, so spelt out.
    return conv2dReLU(x, p, this.outChannels, { kernelSize: 3, names: ['1', '2', '3'] });
  }

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        decoderChannels: this.outChannels,
        atrousRates: [...this.atrousRates],
        dropout: this.dropout,
        upsampling: this.outputStride,
        prefix: this.prefix,
      },
    };
  }
}

registerDecoder('deeplabv3', (args) => new DeepLabV3Decoder(args as DeepLabV3DecoderArgs), {
  encoderOutputStride: 8,
  minTrainingBatch: 2,
  reference: { library: 'smp', name: 'DeepLabV3', params: { resnet50: 16_125_440, resnext50_32x4d: 16_125_440, 'tu-wide_resnet50_2': 16_125_440, 'efficientnet-b4': 4_247_040 }, segmentationHeadParams: 257 },
  defaults: { decoderChannels: 256, atrousRates: [12, 24, 36], dropout: 0.5, upsampling: 8 },
  deterministicArgs: { dropout: 0 },
  description: 'DeepLabV3: ASPP on the deepest feature of an encoder dilated to output stride 8',
});
