/**
 * Jest wrapper of the shared encoder conformance suite (src/conformance) over every registered
 * encoder, sharded across test files so jest can run them in parallel.
 */
import { encoders, listEncoders } from '@busi/core';
import { initBackend } from '@busi/node';
import { encoderConformanceChecks, type EncoderConformanceOptions } from '../src';

// Stochastic depth would make a three-step loss comparison noise: switched off for that check.
const FAMILY_OPTIONS: Record<string, EncoderConformanceOptions> = {
  efficientnet: { trainArgs: { dropConnectRate: 0 } },
};

/**
 * Contract violations known at the time of writing, run as `test.failing` so the suite stays
 * green and flags the day they are fixed (then delete the entry). Keyed `<encoder> › <check prefix>`.
 */
const KNOWN_GAPS: Record<string, string> = {
  'slim-resnet › output stride 16': 'the @busi/node demo encoder refuses outputStride 16 (EncoderArgs allows 16 | 32)',
};

function knownGap(name: string, check: string): string | undefined {
  for (const [key, why] of Object.entries(KNOWN_GAPS)) {
    const [pattern, prefix] = key.split(' › ');
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (re.test(name) && check.startsWith(prefix)) return why;
  }
  return undefined;
}

/** Declares the conformance tests of every `of`-th registered encoder starting at `shard`. */
export function describeEncoderConformance(shard: number, of: number): void {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  const names = listEncoders().filter((_, i) => i % of === shard);
  describe.each(names)('%s', (name) => {
    for (const check of encoderConformanceChecks(name, FAMILY_OPTIONS[encoders.info(name).family] ?? {})) {
      const gap = knownGap(name, check.name);
      if (gap) test.failing(`${check.name} [known gap: ${gap}]`, () => check.run());
      else test(check.name, () => check.run());
    }
  });
}
