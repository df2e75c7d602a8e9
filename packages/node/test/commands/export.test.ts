/**
 * @jest-environment ./packages/onnx/test/helpers/ort-environment.cjs
 */
/**
 * busi export: a model folder becomes an ONNX file that ONNX Runtime runs with busi's outputs and
 * whose metadata carries the model card; an existing file is kept unless --force; bad arguments
 * fail before anything is written; a model without a card exports the assumed one, with a warning.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { MultiTaskModel, createModelCard } from '@busi/core';
import { fileSystem } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { ONNX_METADATA_KEYS } from '@busi/onnx';
import { cli } from './helpers';

let tmp: string;
let modelDir: string;
let bareDir: string;
let model: MultiTaskModel;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-export-'));
  model = new MultiTaskModel({ encoder: 'slim-resnet', decoder: { name: 'unet', decoderChannels: [16, 16, 8, 8, 8] } });
  bareDir = path.join(tmp, 'bare');
  await model.save(fileSystem(bareDir));
  model.setCard(createModelCard({ preprocessing: { size: [64, 64], channels: 3, resize: 'bilinear', normalization: { mean: [0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2] } }, classNames: ['benign', 'malignant', 'normal'], maskThreshold: 0.45 }));
  modelDir = path.join(tmp, 'model');
  await model.save(fileSystem(modelDir));
});
afterAll(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const metadataOf = (file: string) => Object.fromEntries(onnx.ModelProto.decode(fs.readFileSync(file)).metadataProps.map((p) => [p.key, p.value]));

test('writes an ONNX file that ONNX Runtime runs with busi outputs, the model card in its metadata', async () => {
  const out = path.join(tmp, 'exports', 'model.onnx');
  const r = await cli(['export', '--model', modelDir, '--format', 'onnx', '--out', out, '--backend', 'wasm'], tmp);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toContain(`wrote ${out}`);
  expect(r.out).toContain('image [batch, 3, height, width] -> mask_logits, class_logits; preprocessing 64x64');
  expect(JSON.parse(metadataOf(out)[ONNX_METADATA_KEYS.modelCard])).toEqual(model.card);
  const session = await ort.InferenceSession.create(out);
  const x = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  const nchw = tf.transpose(x, [0, 3, 1, 2]);
  const res = await session.run({ image: new ort.Tensor('float32', Float32Array.from(await nchw.data()), [2, 3, 64, 64]) });
  const ref = model.predict(x);
  const refMask = await tf.transpose(ref.mask, [0, 3, 1, 2]).data();
  const refLogits = await ref.logits.data();
  tf.dispose([x, nchw, ref.mask, ref.logits]);
  await session.release();
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let d = 0;
    let n = 0;
    for (let i = 0; i < b.length; i++) {
      d += (a[i] - b[i]) ** 2;
      n += b[i] ** 2;
    }
    return Math.sqrt(d / n);
  };
  expect(rel(res.mask_logits.data as Float32Array, refMask)).toBeLessThan(1e-4);
  expect(rel(res.class_logits.data as Float32Array, refLogits)).toBeLessThan(1e-4);
});

test('keeps an existing file unless --force; --layout and --precision reach the export', async () => {
  const out = path.join(tmp, 'kept.onnx');
  fs.writeFileSync(out, 'the user\'s file');
  const refused = await cli(['export', '--model', modelDir, '--out', out], tmp);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain(`--out '${out}' exists; pass --force to replace it`);
  expect(fs.readFileSync(out, 'utf8')).toBe('the user\'s file');
  const forced = await cli(['export', '--model', modelDir, '--out', out, '--force', '--layout', 'NHWC', '--precision', 'float16', '--backend', 'wasm'], tmp);
  expect(forced.code).toBe(0);
  const meta = metadataOf(out);
  expect([meta[ONNX_METADATA_KEYS.layout], meta[ONNX_METADATA_KEYS.precision]]).toEqual(['NHWC', 'float16']);
  expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
});

test('a model without a card: the assumed card, with a warning naming it', async () => {
  const out = path.join(tmp, 'bare.onnx');
  const r = await cli(['export', '--model', bareDir, '--out', out, '--backend', 'wasm'], tmp);
  expect(r.code).toBe(0);
  expect(r.err).toContain('has no model card and no run folder');
  const card = JSON.parse(metadataOf(out)[ONNX_METADATA_KEYS.modelCard]);
  expect(card.preprocessing.size).toEqual([448, 448]);
  expect(card.description).toContain('assumed');
});

test('bad arguments fail before anything is written', async () => {
  const out = path.join(tmp, 'never.onnx');
  const cases: Array<[string[], string]> = [
    [['export', '--out', out], '--model <run folder or model folder> is required'],
    [['export', '--model', modelDir], '--out <file> is required'],
    [['export', '--model', modelDir, '--out', out, '--format', 'tflite'], 'tflite'],
    [['export', '--model', path.join(tmp, 'missing'), '--out', out], 'not found'],
    [['export', '--model', modelDir, '--out', tmp], 'is a folder'],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(argv, tmp);
    expect([r.code, r.err]).toEqual([2, expect.stringContaining(message)]);
  }
  expect(fs.existsSync(out)).toBe(false);
});
