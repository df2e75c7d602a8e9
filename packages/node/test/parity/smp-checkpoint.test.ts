/**
 * A whole smp checkpoint, as PyTorch would write it (every state-dict entry in PyTorch names and
 * layouts, `num_batches_tracked` as I64, F16 too), loads into a freshly built busi model through
 * safetensors + loadStateDict alone (no parity fill on the busi side), and the model then gives the
 * reference's eval outputs: the import path is proven end to end against PyTorch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  loadStateDict,
  loadStateDictSafetensors,
  parityFill,
  parityInputs,
  readSafetensors,
  writeSafetensors,
  type SafetensorsWriteEntry,
} from '@busi/core';
import { initBackend } from '@busi/kernels';
import { buildParityModel, registryNames } from '../../src/parity/run-parity';

const FIX = path.resolve(__dirname, '../../../../fixtures/parity');

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

function smpCheckpoint(json: { state_dict: [string, number[], string][]; salt: string }): Uint8Array {
  const entries = new Map<string, SafetensorsWriteEntry>();
  for (const [name, shape, dtype] of json.state_dict) {
    if (dtype === 'int64') entries.set(name, { dtype: 'I64', shape, data: new BigInt64Array(Math.max(1, shape.reduce((a, b) => a * b, 1))) });
    else entries.set(name, { dtype: 'F32', shape, data: parityFill(name, shape, json.salt) });
  }
  return writeSafetensors(entries, { format: 'pt' });
}

function maxRelErr(ours: Float32Array, ref: Float32Array): number {
  let err = 0;
  let ss = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ours[i] - ref[i]));
    ss += ref[i] * ref[i];
  }
  return err / Math.sqrt(ss / ref.length);
}

test.each(['Unet__efficientnet-b4', 'FPN__resnext50_32x4d'])('%s: a whole smp checkpoint loads strictly and reproduces the eval outputs', (fixture) => {
  const json = JSON.parse(fs.readFileSync(path.join(FIX, `${fixture}.json`), 'utf8'));
  const ref = readSafetensors(new Uint8Array(fs.readFileSync(path.join(FIX, `${fixture}.safetensors`)))).tensors;
  const names = registryNames(json.decoder, json.encoder);
  const model = buildParityModel(names.decoder!, names.encoder!, json);
  const before = tf.memory().numTensors;

  const report = loadStateDict(model, loadStateDictSafetensors(smpCheckpoint(json)), { strict: true, ignore: json.unused });
  expect(report).toMatchObject({ missing: [], mismatched: [] });

  const inputs = parityInputs(json.input_shape, json.salt);
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(inputs.input.data, json.input_shape as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  const { mask, logits } = model.predict(x);
  const maskNchw = tf.transpose(mask, [0, 3, 1, 2]);
  const maskErr = maxRelErr(maskNchw.dataSync() as Float32Array, ref.get('eval.mask')!.data as Float32Array);
  const labelErr = maxRelErr(logits.dataSync() as Float32Array, ref.get('eval.label')!.data as Float32Array);
  tf.dispose([x, mask, logits, maskNchw]);
  // The README's eval tolerance: 1e-3 · rms(ref) (+1e-6).
  expect(maskErr).toBeLessThanOrEqual(1e-3);
  expect(labelErr).toBeLessThanOrEqual(1e-3);
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});
