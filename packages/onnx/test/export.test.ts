/**
 * @jest-environment ./packages/onnx/test/helpers/ort-environment.cjs
 */
/**
 * exportOnnx's contract on a small model: the graph's opset, names, dynamic dimensions and
 * metadata; PyTorch-named initializers; the NHWC and float16 options checked against busi through
 * ONNX Runtime; a saved-and-loaded model exports the same bytes; no tfjs tensor is leaked; a layer
 * without a converter fails naming it, and registering one makes it export; bad options fail early.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { onnx } from 'onnx-proto';
import '@busi/backbones';
import '@busi/decoders';
import { MultiTaskModel, assumedModelCard, createDecoder, createModelCard, type Decoder, type ModelCard } from '@busi/core';
import { fileSystem } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { ONNX_METADATA_KEYS, ONNX_OPSET, exportOnnx, fromFloat16Bits, registerOnnxConverter, toFloat16Bits } from '@busi/onnx';
import { ortForward, busiForward, randomizeNorms, relativeRms, worstRelativeRms } from './helpers/parity';

let model: MultiTaskModel;
let tmp: string;

const small = () => new MultiTaskModel({ encoder: 'resnet18', decoder: { name: 'unet', decoderChannels: [32, 16, 16, 8, 8] }, seed: 1 });

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-onnx-'));
  model = small();
  randomizeNorms(model);
});
afterAll(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));

test('the graph: opset 17, named input and outputs with dynamic batch and size, metadata, PyTorch-named weights', () => {
  const before = tf.memory().numTensors;
  const card = createModelCard({
    preprocessing: { size: [64, 96], channels: 3, resize: 'bilinear', normalization: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] } },
    classNames: ['benign', 'malignant', 'normal'],
    maskThreshold: 0.4,
  });
  const out = exportOnnx(model, { card, metadata: { 'busi.run': 'test-run' } });
  expect(tf.memory().numTensors).toBe(before);
  const proto = onnx.ModelProto.decode(out.bytes);
  expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
  expect(Number(proto.irVersion)).toBe(8);
  const g = proto.graph as onnx.GraphProto;
  expect(g.input.map((i) => [i.name, dims(i)])).toEqual([['image', ['batch', 3, 'height', 'width']]]);
  expect(g.output.map((o) => [o.name, dims(o)])).toEqual([
    ['mask_logits', ['batch', 1, 'height', 'width']],
    ['class_logits', ['batch', 3]],
  ]);
  const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
  expect(JSON.parse(meta[ONNX_METADATA_KEYS.modelCard])).toEqual(card);
  expect(meta[ONNX_METADATA_KEYS.layout]).toBe('NCHW');
  expect(JSON.parse(meta[ONNX_METADATA_KEYS.config])).toEqual(model.getConfig());
  expect(meta[ONNX_METADATA_KEYS.precision]).toBe('float32');
  expect(meta['busi.run']).toBe('test-run');
  expect(out.metadata).toEqual(meta);
  // Every weight the forward pass reads is an initializer under its state-dict name, in PyTorch layout.
  const inits = new Map(g.initializer.map((t) => [t.name, t.dims!.map(Number)]));
  for (const p of model.torchParams()) {
    if (p.name.endsWith('num_batches_tracked')) continue;
    const shape = p.variable.shape as number[];
    const torch = p.layout === 'conv2d' ? [shape[3], shape[2], shape[0], shape[1]] : p.layout === 'linear' ? [shape[1], shape[0]] : shape;
    expect([p.name, inits.get(p.name)]).toEqual([p.name, torch]);
  }
  const ops = new Set(g.node.map((n) => n.opType));
  expect(ops.has('Dropout')).toBe(false);
  expect([...ops].sort()).toEqual(expect.arrayContaining(['Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Add', 'Concat', 'Resize', 'Gemm', 'ReduceMean']));
  expect(out.nodes).toBe(g.node.length);
});

test('ONNX Runtime runs the export: outputs equal busi for batch 1 at 32² and batch 3 at 64²', async () => {
  const session = await ort.InferenceSession.create(exportOnnx(model).bytes);
  expect(session.inputNames).toEqual(['image']);
  expect(session.outputNames).toEqual(['mask_logits', 'class_logits']);
  const worst = await worstRelativeRms(model, session, [[1, 32], [3, 64]]);
  await session.release();
  expect(worst.mask).toBeLessThan(1e-4);
  expect(worst.logits).toBeLessThan(1e-4);
});

test("layout 'NHWC': image and mask_logits channels-last, same values", async () => {
  const out = exportOnnx(model, { layout: 'NHWC' });
  const g = onnx.ModelProto.decode(out.bytes).graph as onnx.GraphProto;
  expect(dims(g.input[0])).toEqual(['batch', 'height', 'width', 3]);
  expect(dims(g.output[0])).toEqual(['batch', 'height', 'width', 1]);
  const session = await ort.InferenceSession.create(out.bytes);
  const x = tf.randomNormal([2, 64, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const got = await ortForward(session, x, 'NHWC');
  const o = model.predict(x);
  const mask = (await o.mask.data()) as Float32Array;
  const logits = (await o.logits.data()) as Float32Array;
  tf.dispose([x, o.mask, o.logits]);
  await session.release();
  expect(relativeRms(got.mask, mask)).toBeLessThan(1e-4);
  expect(relativeRms(got.logits, logits)).toBeLessThan(1e-4);
});

test("precision 'float16': half-size float16 weights, float32 input and outputs, close to busi", async () => {
  const full = exportOnnx(model);
  const half = exportOnnx(model, { precision: 'float16' });
  expect(half.bytes.length / full.bytes.length).toBeGreaterThan(0.45);
  expect(half.bytes.length / full.bytes.length).toBeLessThan(0.55);
  const g = onnx.ModelProto.decode(half.bytes).graph as onnx.GraphProto;
  const conv1 = g.initializer.find((t) => t.name === 'encoder.conv1.weight')!;
  expect(conv1.dataType).toBe(onnx.TensorProto.DataType.FLOAT16);
  expect(g.input[0].type!.tensorType!.elemType).toBe(onnx.TensorProto.DataType.FLOAT);
  const session = await ort.InferenceSession.create(half.bytes);
  const x = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const got = await ortForward(session, x);
  const ref = await busiForward(model, x);
  x.dispose();
  await session.release();
  // Half precision: about 3 significant digits through ~20 layers.
  expect(relativeRms(got.mask, ref.mask)).toBeLessThan(2e-2);
  expect(relativeRms(got.logits, ref.logits)).toBeLessThan(2e-2);
  expect(relativeRms(got.mask, ref.mask)).toBeGreaterThan(0);
});

test('float16 bit patterns: rounding to nearest-even, subnormals, overflow, NaN', () => {
  const values = Float32Array.of(0, -0, 1, -2, 65504, 65520, 1e6, 6e-8, 2 ** -24, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1, NaN, -Infinity);
  const bits = toFloat16Bits(values);
  expect(Array.from(bits.slice(0, 7))).toEqual([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0x7c00]);
  expect(bits[8]).toBe(0x0001); // the smallest subnormal
  expect(bits[9]).toBe(0x0400); // the smallest normal
  expect(bits[10]).toBe(0x3c00); // a tie rounds to the even mantissa
  expect(bits[11]).toBe(0x3c02);
  const back = fromFloat16Bits(bits);
  expect(Math.abs(back[12] - 0.1)).toBeLessThan(1e-4);
  expect(Number.isNaN(back[13])).toBe(true);
  expect(back[14]).toBe(-Infinity);
});

test("a model without a card exports the card busi assumes; a saved and loaded model (card included) exports the same bytes", async () => {
  const assumed = JSON.parse(exportOnnx(model).metadata[ONNX_METADATA_KEYS.modelCard]) as ModelCard;
  expect({ ...assumed, created: '' }).toEqual({ ...assumedModelCard(model.config), created: '' });
  model.setCard(createModelCard({ preprocessing: { size: [64, 64], channels: 3, resize: 'bilinear', normalization: { mean: [0.2, 0.2, 0.2], std: [0.3, 0.3, 0.3] } }, classNames: ['x', 'y', 'z'] }));
  expect(JSON.parse(exportOnnx(model).metadata[ONNX_METADATA_KEYS.modelCard])).toEqual(model.card);
  const dir = path.join(tmp, 'saved');
  await model.save(fileSystem(dir));
  const loaded = await MultiTaskModel.load(fileSystem(dir));
  try {
    expect(Buffer.from(exportOnnx(loaded).bytes).equals(Buffer.from(exportOnnx(model).bytes))).toBe(true);
  } finally {
    loaded.dispose();
  }
});

/** A layer class that busi's exporter does not know. */
class Negate extends tfl.layers.Layer {
  static className = 'TestNegate';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.neg(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(Negate);

test('a layer without a converter fails naming it; a registered converter exports it', async () => {
  const unet = createDecoder('unet', { encoderChannels: [3, 64, 64, 128, 256, 512], decoderChannels: [32, 16, 16, 8, 8] });
  const decoder: Decoder = {
    name: 'negated-unet',
    outChannels: unet.outChannels,
    outputStride: unet.outputStride,
    headKernelSize: unet.headKernelSize,
    apply: (features) => new Negate({ name: 'decoder.negate' }).apply(unet.apply(features)) as tfl.SymbolicTensor,
    getConfig: () => ({ name: 'negated-unet', args: {} }),
  };
  const custom = new MultiTaskModel({ encoder: 'resnet18', decoder });
  try {
    expect(() => exportOnnx(custom)).toThrow("layer 'decoder.negate' is a TestNegate, which has no ONNX converter (register one with registerOnnxConverter('TestNegate', ...))");
    registerOnnxConverter('TestNegate', ({ layer, inputs, graph }) => [graph.op('Neg', [inputs[0].name], {}, layer.name)]);
    expect(() => registerOnnxConverter('TestNegate', () => [])).toThrow("'TestNegate' already has a converter");
    const session = await ort.InferenceSession.create(exportOnnx(custom).bytes);
    const worst = await worstRelativeRms(custom, session, [[1, 32]]);
    await session.release();
    expect(worst.mask).toBeLessThan(1e-4);
  } finally {
    custom.dispose();
  }
});

test('bad options fail before anything is built, naming the option', () => {
  expect(() => exportOnnx(model, { layout: 'NCWH' as 'NCHW' })).toThrow("layout must be 'NCHW' or 'NHWC', got 'NCWH'");
  expect(() => exportOnnx(model, { precision: 'int8' as 'float16' })).toThrow("precision must be 'float32' or 'float16', got 'int8'");
  const card = (size: [number, number], classNames = ['a', 'b', 'c'], maskThreshold = 0.5): ModelCard => ({
    ...createModelCard({ preprocessing: { size: [32, 32], channels: 3, resize: 'bilinear', normalization: { mean: [0, 0, 0], std: [1, 1, 1] } }, classNames: ['a', 'b', 'c'] }),
    preprocessing: { size, channels: 3, resize: 'bilinear', normalization: { mean: [0, 0, 0], std: [1, 1, 1] } },
    classNames,
    maskThreshold,
  });
  expect(() => exportOnnx(model, { card: card([32, 0]) })).toThrow('exportOnnx: card: preprocessing: size must be [height, width]');
  expect(() => exportOnnx(model, { card: card([32, 33]) })).toThrow('exportOnnx: card: preprocessing size: height and width must be divisible by the output stride 32');
  expect(() => exportOnnx(model, { card: card([32, 32], ['a', 'b']) })).toThrow('exportOnnx: card: 2 class names for a model with 3 classes');
  expect(() => exportOnnx(model, { card: card([32, 32], undefined, 2) })).toThrow('exportOnnx: card: maskThreshold must be in [0, 1]');
});
