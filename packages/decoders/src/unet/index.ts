import { registerDecoder } from '@busi/core';
import { UnetDecoder, type UnetDecoderArgs } from './unet';

export * from './unet';

registerDecoder('unet', (args) => new UnetDecoder(args as UnetDecoderArgs));
