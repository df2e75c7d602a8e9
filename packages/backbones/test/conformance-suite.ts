/**
 * Jest wrapper of the shared encoder conformance suite (src/conformance) over every registered
 * encoder, sharded across test files so jest can run them in parallel.
 */
import { encoders, listEncoders } from '@busi/core';
import { initBackend } from '@busi/node';
import { encoderConformanceChecks } from '../src';

/** Declares the conformance tests of every `of`-th registered encoder starting at `shard`. */
export function describeEncoderConformance(shard: number, of: number): void {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  const names = listEncoders().filter((_, i) => i % of === shard);
  describe.each(names)('%s', (name) => {
    // Random elements (stochastic depth) off, so a three-step loss comparison is not noise.
    for (const check of encoderConformanceChecks(name, { trainArgs: { ...encoders.info(name).deterministicArgs } })) {
      test(check.name, () => check.run());
    }
  });
}
