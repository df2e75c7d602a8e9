import { registerDecoder } from '@busi/core';
import { UNET_DEFAULTS, UnetDecoder, type UnetDecoderArgs } from './unet';

export * from './unet';

registerDecoder('unet', (args) => new UnetDecoder(args as UnetDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'Unet', params: { resnet50: 9_012_928, resnext50_32x4d: 9_012_928, 'tu-wide_resnet50_2': 9_012_928, 'efficientnet-b4': 2_676_928 }, segmentationHeadParams: 145 },
  defaults: UNET_DEFAULTS,
  description: 'Unet: nearest ×2 up-sampling blocks, each concatenating the encoder skip of its resolution',
});
