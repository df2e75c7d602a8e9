import { registerEncoder, type EncoderArgs } from '@busi/core';
import { EfficientNetEncoder } from './efficientnet';
import { EFFICIENTNET_VARIANTS, efficientNetParamCount } from './params';

export * from './efficientnet';
export * from './params';

/** Builds a lukemelas EfficientNet encoder by registry name ('efficientnet-b0' … 'efficientnet-b7'). */
export function createEfficientNetEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): EfficientNetEncoder {
  const variant = EFFICIENTNET_VARIANTS[name];
  if (!variant) throw new Error(`unknown EfficientNet variant '${name}' (known: ${Object.keys(EFFICIENTNET_VARIANTS).join(', ')})`);
  return new EfficientNetEncoder({ ...args, name, variant });
}

for (const name of Object.keys(EFFICIENTNET_VARIANTS)) {
  const probe = createEfficientNetEncoder(name);
  registerEncoder(name, (args) => createEfficientNetEncoder(name, args), {
    outChannels: probe.outChannels,
    family: 'efficientnet',
    params: efficientNetParamCount(probe.arch),
  });
}
