/** Every registered decoder against the shared decoder contract (src/conformance), on a small stand-in encoder. */
import { listDecoders } from '@busi/core';
import { initBackend } from '@busi/node';
import { decoderConformanceChecks } from '../src';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const names = listDecoders();

test('the registry lists the decoders of this package', () => {
  expect(names).toEqual(expect.arrayContaining(['unet', 'unetplusplus', 'fpn', 'deeplabv3plus']));
});

describe.each(names)('%s', (name) => {
  test.each(decoderConformanceChecks(name).map((c) => [c.name, c] as const))('%s', async (_label, check) => {
    await check.run();
  });
});
