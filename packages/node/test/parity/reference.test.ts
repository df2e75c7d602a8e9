/**
 * The parity harness against the frozen PyTorch reference: Unet + ResNet-50 (fixtures/parity),
 * eval, encoder stages, training-mode outputs and every gradient norm, on the wasm backend with
 * the busi gradient kernels (~1 min).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { exportStateDict, loadStateDict, loadStateDictSafetensors, parityFill, runParityCheck, saveStateDictSafetensors } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { buildParityModel, registryNames } from '../../src/parity/run-parity';

const FIX = path.resolve(__dirname, '../../../../fixtures/parity');

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

test('Unet__resnet50 matches PyTorch: outputs, encoder stages, train outputs, 193 gradient norms; state-dict export', async () => {
  const json = JSON.parse(fs.readFileSync(path.join(FIX, 'Unet__resnet50.json'), 'utf8'));
  const names = registryNames(json.decoder, json.encoder);
  expect(names).toEqual({ decoder: 'unet', encoder: 'resnet50' });
  const model = buildParityModel(names.decoder!, names.encoder!, json);
  const before = tf.memory().numTensors;
  const report = await runParityCheck(model, {
    json,
    safetensors: fs.readFileSync(path.join(FIX, 'Unet__resnet50.safetensors')),
    inputs: fs.readFileSync(path.join(FIX, 'inputs.safetensors')),
  });
  expect(tf.memory().numTensors).toBe(before);
  console.log(report.summary);
  const failed = report.checks.filter((c) => !c.pass);
  expect(failed).toEqual([]);
  const grads = report.checks.filter((c) => c.name.startsWith('grad:'));
  expect(grads.length).toBe(Object.keys(json.grad_norms).length);
  for (const k of ['eval.mask', 'eval.label', 'encoder.1', 'encoder.5', 'train.mask', 'train.label', 'grad.global', 'state_dict', 'params.total']) {
    expect(report.checks.some((c) => c.name === k)).toBe(true);
  }

  // The exporter speaks the reference's state-dict names, shapes and layouts.
  const sd = exportStateDict(model);
  const want = (json.state_dict as [string, number[], string][]).filter(([, , dtype]) => dtype === 'float32');
  // (order: tfjs layer order, which differs from PyTorch's module registration order in places)
  const byName = (a: [string, number[]], b: [string, number[]]) => (a[0] < b[0] ? -1 : 1);
  expect([...sd].map(([k, e]): [string, number[]] => [k, e.shape]).sort(byName)).toEqual(want.map(([k, shape]): [string, number[]] => [k, shape]).sort(byName));
  for (const name of ['encoder.layer3.4.conv2.weight', 'decoder.blocks.0.conv1.0.weight', 'classification_head.3.weight']) {
    // Buffer comparison: jest's toEqual walks multi-million-element typed arrays slowly
    const same = Buffer.from(sd.get(name)!.data.buffer).equals(Buffer.from(parityFill(name, sd.get(name)!.shape).buffer));
    expect([name, same]).toEqual([name, true]);
  }
  const bytes = saveStateDictSafetensors(sd);
  expect(loadStateDict(model, loadStateDictSafetensors(bytes))).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});
