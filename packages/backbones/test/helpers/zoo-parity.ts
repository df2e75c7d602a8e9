import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encoders, type ParityFixtureJson } from '@busi/core';
import { initBackend, listParityFixtures, runParityFixture } from '@busi/node';

/** Unet × every encoder family (fixtures/parity-zoo/encoders, copied from ../shared/parity-zoo plus the two `tu-` ResNets). */
export const ZOO_ENCODERS = path.resolve(__dirname, '../../../../fixtures/parity-zoo/encoders');

/** The zoo fixtures whose encoder belongs to `family` (encoder read from the `Unet__<encoder>` file name, resolved by the registry). */
export function zooFixtures(family: string): string[] {
  return listParityFixtures(ZOO_ENCODERS)
    .map((f) => f.replace(/\.json$/, ''))
    .filter((name) => {
      const encoder = name.split('__')[1];
      return encoders.has(encoder) && encoders.info(encoder).family === family;
    });
}

/**
 * One test per zoo fixture of `family`: the full parity check (weight names and shapes, eval and
 * training outputs, encoder stages, every parameter's gradient norm) passes and leaks no tensor.
 * wasm with the busi kernels; native kernels, when built, on 2 threads as the decoder parity tests.
 */
export function describeZooParity(family: string): void {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false, nativeThreads: 2 });
  });
  const names = zooFixtures(family);
  test(`the zoo has fixtures for the ${family} family`, () => {
    expect(names.length).toBeGreaterThan(0);
  });
  test.each(names)('%s matches the PyTorch reference', async (name) => {
    const before = tf.memory().numTensors;
    const result = await runParityFixture(ZOO_ENCODERS, name);
    expect(tf.memory().numTensors).toBe(before);
    console.log(result.line);
    const checks = result.report?.checks ?? [];
    expect(checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.err} > ${c.tolerance} ${c.note ?? ''}`)).toEqual([]);
    // Every output is compared, except those the fixture's own `tolerances` mark as not reproducible by PyTorch itself.
    const required = ['eval.mask', 'eval.label', 'train.mask', 'train.label', 'encoder.1', 'encoder.5', 'grad.global'];
    const json = JSON.parse(fs.readFileSync(path.join(ZOO_ENCODERS, `${name}.json`), 'utf8')) as ParityFixtureJson;
    const skipped = Object.entries(json.tolerances ?? {}).filter(([, t]) => t === null).map(([k]) => k);
    expect(result.report?.notCompared.sort()).toEqual(skipped.sort());
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(required.filter((n) => !skipped.includes(n))));
    expect(result.status).toBe('pass');
  });
}
