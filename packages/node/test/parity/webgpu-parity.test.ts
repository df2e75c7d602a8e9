// The parity harness on the webgpu backend (npm test): a committed PyTorch fixture, compared in
// inference mode (outputs and every encoder stage). The training pass and gradient norms of a paper
// model on webgpu are compared with the cpu backend in test/models/webgpu-training.test.ts, and
// `npm run parity -- --backend webgpu` runs any fixture folder in full (docs/gpu.md has the results).
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { webgpuTests } from '../helpers/webgpu';
import { runParityFixture } from '../../src/parity/run-parity';

// The smallest committed smp fixture (Unet/ResNet-18, 2×3×96×128): SwiftShader needs about a
// minute for its inference pass on two cores.
const DIR = path.resolve(__dirname, '../../../../fixtures/parity-zoo/encoders');
const FIXTURE = 'Unet__resnet18';

const { maybe, backend } = webgpuTests();

maybe(`${FIXTURE} matches PyTorch on webgpu: inference outputs and every encoder stage`, async () => {
  expect(tf.getBackend()).toBe('webgpu');
  const before = tf.memory().numTensors;
  const result = await runParityFixture(DIR, FIXTURE, { train: false });
  expect(tf.memory().numTensors).toBe(before);
  console.log(`${backend().summary.replace('busi backend: ', '')}: ${result.line}`);
  expect(result.status).toBe('pass');
  const compared = result.report!.checks.map((c) => c.name);
  expect(compared).toEqual(expect.arrayContaining(['state_dict', 'eval.mask', 'eval.label', 'encoder.1', 'encoder.2', 'encoder.3', 'encoder.4', 'encoder.5']));
  expect(compared.some((n) => n.startsWith('train.') || n.startsWith('grad'))).toBe(false);
});
