import { registerDecoder } from '@busi/core';
import { UnetDecoder, type UnetDecoderArgs } from './unet';

export * from './unet';

registerDecoder('unet', (args) => new UnetDecoder(args as UnetDecoderArgs), {
  encoderOutputStride: 32,
  reference: { library: 'smp', name: 'Unet', params: { resnet50: 9_012_928, resnext50_32x4d: 9_012_928, 'tu-wide_resnet50_2': 9_012_928, 'efficientnet-b4': 2_676_928 }, segmentationHeadParams: 145 },
});
