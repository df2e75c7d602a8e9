import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encoders, runParityCheck, type ParityFixtureJson } from '@busi/core';
import { SMP_ENCODERS, buildParityModel } from '@busi/node';

export const FIXTURES = path.resolve(__dirname, '../../../../fixtures/parity');
/** The fixtures' smp encoder names. */
export const SMP_ENCODER_NAMES = ['resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2', 'efficientnet-b4'];

/**
 * Runs the parity harness for `<smpDecoder>__<smpEncoder>` and asserts every check passes, or
 * prints why it is skipped when the encoder is not registered. Gradients need the wasm training
 * kernels (`initBackend({ backend: 'wasm' })`).
 */
export function expectParity(smpDecoder: string, registryDecoder: string, smpEncoder: string): void {
  const encoder = SMP_ENCODERS[smpEncoder] ?? smpEncoder;
  const fixture = `${smpDecoder}__${smpEncoder}`;
  if (!encoders.has(encoder)) {
    console.log(`${fixture}: skipped, encoder '${encoder}' is not registered`);
    return;
  }
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${fixture}.json`), 'utf8')) as ParityFixtureJson;
  const model = buildParityModel(registryDecoder, encoder, json);
  const before = tf.memory().numTensors;
  const report = runParityCheck(model, {
    json,
    safetensors: new Uint8Array(fs.readFileSync(path.join(FIXTURES, `${fixture}.safetensors`))),
  });
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
  console.log(report.summary);
  const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.err} > ${c.tolerance} ${c.note ?? ''}`);
  expect(failed).toEqual([]);
  // One gradient check per trainable parameter of the reference, plus the outputs and stages.
  const trainable = Object.keys(json.grad_norms).length;
  expect(report.checks.filter((c) => c.name.startsWith('grad:')).length).toBe(trainable);
  expect(report.checks.map((c) => c.name)).toEqual(
    expect.arrayContaining(['eval.mask', 'eval.label', 'train.mask', 'train.label', 'encoder.5', 'grad.global']),
  );
  expect(report.pass).toBe(true);
}
