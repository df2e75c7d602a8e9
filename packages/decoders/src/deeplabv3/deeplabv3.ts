import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { DecoderBase, TORCH_DEFAULT_DECODER_AND_HEADS_INIT, registerDecoder, type DecoderArgs } from '@busi/core';
import { aspp, conv2dReLU } from '../blocks';

/** The options of {@link DeepLabV3Decoder} (smp's `DeepLabV3` arguments). */
export interface DeepLabV3DecoderOptions {
  /** Channels of the ASPP branches and of the decoder output. */
  decoderChannels: number;
  /** Dilation rates of the three 3×3 ASPP branches (smp fixes them at 12, 24, 36). */
  atrousRates: readonly [number, number, number];
  /** Dropout after the ASPP projection (element-wise, PyTorch Dropout; smp fixes it at 0.5); 0 disables it. */
  dropout: number;
  /** Up-sampling the segmentation head applies (the decoder's output stride). */
  upsampling: number;
}

/** smp's DeepLabV3 defaults (also the registry entry's `defaults`). */
export const DEEPLABV3_DEFAULTS: Readonly<DeepLabV3DecoderOptions> = { decoderChannels: 256, atrousRates: [12, 24, 36], dropout: 0.5, upsampling: 8 };

/** Arguments of {@link DeepLabV3Decoder}: the encoder's channel list and any of {@link DeepLabV3DecoderOptions}. */
export interface DeepLabV3DecoderArgs extends DecoderArgs, Partial<DeepLabV3DecoderOptions> {}

/**
 * smp's DeepLabV3 decoder, an `nn.Sequential`: ASPP (`0`: 1×1, three dilated 3×3 and an
 * image-pooling branch, projected to `decoderChannels`) on the deepest feature of an encoder dilated
 * to output stride 8, then a 3×3 conv-BN-ReLU (`1`, `2`, `3`). Only the last feature is used.
 *
 * Training needs a batch of at least 2 (the image-pooling BatchNorm sees one value per channel
 * and sample, as in PyTorch).
 */
export class DeepLabV3Decoder extends DecoderBase<DeepLabV3DecoderOptions> {
  readonly outChannels: number;
  readonly outputStride: number;
  readonly headKernelSize = 1;
  /** smp v0.3.3's DeepLabV3, like DeepLabV3Plus, never calls `initialize()`: decoder and heads keep PyTorch's defaults (measured: fixtures/init-stats). */
  readonly initialization = TORCH_DEFAULT_DECODER_AND_HEADS_INIT;

  constructor(args: DeepLabV3DecoderArgs) {
    super('deeplabv3', args, DEEPLABV3_DEFAULTS);
    this.checkRates('dropout');
    this.checkPositiveIntegers('decoderChannels', 'upsampling');
    const rates = this.options.atrousRates;
    if (!Array.isArray(rates) || rates.length !== 3 || rates.some((r) => !Number.isInteger(r) || r < 1)) {
      this.fail(`atrousRates must hold 3 positive integers, got [${String(rates)}]`);
    }
    this.outChannels = this.options.decoderChannels;
    this.outputStride = this.options.upsampling;
  }

  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const p = this.prefix;
    const x = aspp(features[features.length - 1], `${p}.0`, {
      channels: this.outChannels,
      atrousRates: this.options.atrousRates,
      separable: false,
      dropout: this.options.dropout,
    });
    // `1` conv (no bias), `2` BatchNorm, `3` ReLU: conv2dReLU's layout shifted by one, so spelt out.
    return conv2dReLU(x, p, this.outChannels, { kernelSize: 3, names: ['1', '2', '3'] });
  }
}

registerDecoder('deeplabv3', (args) => new DeepLabV3Decoder(args as DeepLabV3DecoderArgs), {
  encoderOutputStride: 8,
  minTrainingBatch: 2,
  reference: { library: 'smp', name: 'DeepLabV3', params: { resnet50: 16_125_440, resnext50_32x4d: 16_125_440, 'tu-wide_resnet50_2': 16_125_440, 'efficientnet-b4': 4_247_040 }, segmentationHeadParams: 257 },
  defaults: DEEPLABV3_DEFAULTS,
  deterministicArgs: { dropout: 0 },
  description: 'DeepLabV3: ASPP on the deepest feature of an encoder dilated to output stride 8',
});
