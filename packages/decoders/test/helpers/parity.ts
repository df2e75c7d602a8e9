import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encoders, runParityCheck, type ParityFixtureJson } from '@busi/core';
import { SMP_ENCODERS, buildParityModel } from '@busi/node';

export const FIXTURES = path.resolve(__dirname, '../../../../fixtures/parity');
/** The fixtures' smp encoder names. */
export const SMP_ENCODER_NAMES = ['resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2', 'efficientnet-b4'];

/**
 * Encoders whose combinations always get the full check (training outputs and every gradient norm).
 * Every other combination is checked in full too unless `BUSI_PARITY_QUICK=1` asks for eval outputs
 * and encoder stages only (a quicker local loop); CI runs everything in full.
 */
export const FULL_PARITY_ENCODERS = ['resnet50', 'efficientnet-b4'];

/**
 * Runs the parity harness for `<smpDecoder>__<smpEncoder>` and asserts every check passes, or
 * prints why it is skipped when the encoder is not registered. Gradients need the wasm training
 * kernels (`initBackend({ backend: 'wasm' })`).
 */
export function expectParity(smpDecoder: string, registryDecoder: string, smpEncoder: string): void {
  const full = FULL_PARITY_ENCODERS.includes(smpEncoder) || process.env.BUSI_PARITY_QUICK !== '1';
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
  }, { train: full, gradients: full });
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
  console.log(report.summary);
  const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.err} > ${c.tolerance} ${c.note ?? ''}`);
  expect(failed).toEqual([]);
  const names = report.checks.map((c) => c.name);
  expect(names).toEqual(expect.arrayContaining(['eval.mask', 'eval.label', 'encoder.1', 'encoder.5']));
  if (full) {
    // One gradient check per trainable parameter of the reference.
    const trainable = Object.keys(json.grad_norms).length;
    expect(report.checks.filter((c) => c.name.startsWith('grad:')).length).toBe(trainable);
    expect(names).toEqual(expect.arrayContaining(['train.mask', 'train.label', 'grad.global']));
  }
  expect(report.pass).toBe(true);
}
