import { encoders, registerEncoder, type EncoderArgs } from '@busi/core';
import { EFFICIENTNET_DEFAULTS, EfficientNetEncoder } from './efficientnet';
import { EFFICIENTNET_VARIANTS, efficientNetParamCount } from './params';

export * from './efficientnet';
export * from './params';

/** Builds a lukemelas EfficientNet encoder by registry name ('efficientnet-b0' … 'efficientnet-b7'). */
export function createEfficientNetEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): EfficientNetEncoder {
  const canonical = encoders.has(name) ? encoders.resolve(name) : name;
  const variant = EFFICIENTNET_VARIANTS[canonical];
  if (!variant) throw new Error(`unknown EfficientNet variant '${name}' (known: ${Object.keys(EFFICIENTNET_VARIANTS).join(', ')})`);
  return new EfficientNetEncoder({ ...args, name: canonical, variant });
}

// smp's names are efficientnet-pytorch's: `efficientnet-b4` in both.
for (const name of Object.keys(EFFICIENTNET_VARIANTS)) {
  const probe = createEfficientNetEncoder(name);
  registerEncoder(name, (args) => createEfficientNetEncoder(name, args), {
    family: 'efficientnet',
    outChannels: probe.outChannels,
    params: efficientNetParamCount(probe.arch),
    unusedParams: efficientNetParamCount(probe.arch) - efficientNetParamCount(probe.arch, 3, false),
    reference: { library: 'smp', name, source: 'efficientnet-pytorch', sourceName: name },
    defaults: EFFICIENTNET_DEFAULTS,
    // Stochastic depth off: the reference's training pass is deterministic.
    deterministicArgs: { dropConnectRate: 0 },
    description: `lukemelas EfficientNet ${name.slice(-2).toUpperCase()} (static same padding for ${probe.arch.resolution}²)`,
  });
}
