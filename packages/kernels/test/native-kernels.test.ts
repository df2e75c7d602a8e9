import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { loadNativeAddon, nativeAddonStatus } from '../src/native/addon';
import { nativeKernelsInfo, registerNativeKernels, unregisterNativeKernels } from '../src/native/register';
import { registerNativeBackend } from '../src/native/backend';
import { DENSE_CONV_CASES, depthwiseGradsReference, explicit, expectMatchesCpu, maxRelError, runOn, setBackendUnderTest, setupBackends, spec, type ConvCase } from './helpers';

// The addon is optional: it exists once `npm run build:native` has run (CI builds it).
const addon = loadNativeAddon();
const describeNative = addon ? describe : describe.skip;
if (!addon) {
  // eslint-disable-next-line no-console
  console.warn(`native kernel tests skipped: busi native addon ${nativeAddonStatus().reason}`);
}

type Case = ConvCase;

const cases: Case[] = [
  ...DENSE_CONV_CASES,
  { x: [2, 9, 8, 16], k: [3, 3], co: 24, s: [1, 1], pad: 'same' },
  // Narrowing stride-1 layers take the flipped-filter conv form for the input gradient.
  { x: [2, 9, 8, 16], k: [3, 3], co: 5, s: [1, 1], pad: explicit(1, 2, 0, 1) },
  { x: [1, 10, 9, 12], k: [3, 2], co: 4, s: [1, 1], pad: 'valid' },
  { x: [2, 8, 8, 6], k: [5, 5], co: 2, s: [1, 1], pad: 'same' },
  // Output channel counts the direct forward specialises on (1, 8, 16, 32), odd widths for its pixel tail.
  { x: [2, 9, 11, 5], k: [3, 3], co: 1, s: [1, 1], pad: 'same' },
  { x: [1, 10, 7, 6], k: [3, 3], co: 8, s: [2, 1], pad: explicit(1, 0, 2, 1) },
  { x: [2, 8, 9, 12], k: [3, 3], co: 16, s: [1, 1], pad: 'same' },
  { x: [1, 7, 13, 4], k: [5, 3], co: 32, s: [2, 2], pad: 'valid' },
];
// The forward pass also takes dilation (tfjs's conv gradients reject it, so no gradient cases).
const dilated: Case[] = [
  { x: [1, 14, 13, 4], k: [3, 3], co: 16, s: [1, 1], pad: 'same', dil: [2, 3] },
  { x: [2, 13, 11, 3], k: [3, 3], co: 4, s: [1, 1], pad: 'same', dil: [2, 2] },
  { x: [1, 15, 15, 2], k: [3, 3], co: 3, s: [1, 1], pad: explicit(6, 6, 6, 6), dil: [6, 6] },
  { x: [2, 12, 10, 3], k: [3, 2], co: 2, s: [1, 1], pad: 'valid', dil: [2, 3] },
];

function shapes(c: Case): { filter: number[]; dy: number[] } {
  const filter = [c.k[0], c.k[1], c.x[3], c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, filter as [number, number, number, number], c.s, c.dil ?? 1, c.pad);
  return { filter, dy: info.outShape };
}

// Each test runs on wasm with the native kernels under it and on the 'native' backend (JS-memory
// tensors, the same kernels); wasm-specific hand-offs are marked and skipped on native.
describeNative.each([['wasm'], ['native']] as const)('native kernels on %s match the cpu backend', (under) => {
  beforeAll(async () => {
    await setupBackends();
    if (under === 'wasm') expect(registerNativeKernels()).toBe(true);
    else expect(registerNativeBackend()).toBe(true);
    setBackendUnderTest(under);
  });
  afterAll(() => {
    if (under === 'wasm') unregisterNativeKernels();
    setBackendUnderTest('wasm');
  });

  // Each case runs with the default patch blocks (whole images), with blocks of a few output
  // rows, and with the direct small-channel forward forced on (it normally starts at 1024-pixel
  // maps), so every path is checked on these small maps.
  describe.each([['whole-image blocks', 0, 0], ['small blocks', 64, 0], ['direct small-channel forward', 0, 1]] as const)('%s', (_label, floats, directPixels) => {
    let prev = 0;
    let prevDirect = 0;
    beforeAll(() => {
      prev = addon!.setBlockFloats(floats);
      prevDirect = addon!.setDirectMinPixels(directPixels);
    });
    afterAll(() => {
      addon!.setBlockFloats(prev);
      addon!.setDirectMinPixels(prevDirect);
    });
    test.each(cases.map((c) => [JSON.stringify(c), c] as const))('Conv2D and both gradients %s', async (_name, c) => {
      const { filter, dy } = shapes(c);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      const w = spec(filter);
      await expectMatchesCpu('Conv2D', { x: spec(c.x), filter: w }, { ...attrs, dilations: 1 });
      await expectMatchesCpu('Conv2DBackpropFilter', { x: spec(c.x), dy: spec(dy) }, { ...attrs, filterShape: filter });
      await expectMatchesCpu('Conv2DBackpropInput', { dy: spec(dy), filter: w }, { ...attrs, inputShape: c.x });
    });
    test.each(dilated.map((c) => [JSON.stringify(c), c] as const))('dilated Conv2D %s', async (_name, c) => {
      const { filter } = shapes(c);
      await expectMatchesCpu('Conv2D', { x: spec(c.x), filter: spec(filter) }, {
        strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.dil,
      });
    });
  });

  const depthwise: Case[] = [
    { x: [2, 7, 7, 3], k: [3, 3], co: 3, s: [1, 1], pad: 'same' },
    { x: [2, 8, 7, 4], k: [3, 3], co: 4, s: [2, 2], pad: 'same' },
    { x: [1, 9, 9, 5], k: [5, 5], co: 5, s: [2, 2], pad: explicit(2, 1, 1, 2) },
    { x: [3, 6, 10, 2], k: [3, 1], co: 2, s: [1, 3], pad: 'valid' },
    { x: [1, 11, 11, 6], k: [3, 3], co: 6, s: [1, 1], pad: explicit(2, 2, 2, 2), dil: [2, 2] },
    { x: [2, 12, 12, 3], k: [5, 5], co: 3, s: [3, 3], pad: 'same' },
  ];
  test.each(depthwise.map((c) => [JSON.stringify(c), c] as const))('DepthwiseConv2dNative and both gradients %s', async (_name, c) => {
    const filter = [c.k[0], c.k[1], c.x[3], 1];
    const dy = tf.backend_util.computeConv2DInfo(c.x, filter as [number, number, number, number], c.s, c.dil ?? 1, c.pad, undefined, true).outShape;
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: c.dil ?? 1 };
    const w = spec(filter);
    await expectMatchesCpu('DepthwiseConv2dNative', { x: spec(c.x), filter: w }, attrs);
    if (c.dil == null) {
      await expectMatchesCpu('DepthwiseConv2dNativeBackpropFilter', { x: spec(c.x), dy: spec(dy) }, { ...attrs, filterShape: filter });
      await expectMatchesCpu('DepthwiseConv2dNativeBackpropInput', { dy: spec(dy), filter: w }, { ...attrs, inputShape: c.x });
      return;
    }
    // tfjs's cpu gradient kernels ignore dilation: direct loops are the reference (square kernel, even padding).
    const x = spec(c.x);
    const g = spec(dy);
    const pad = (c.pad as tf.backend_util.ExplicitPadding)[1][0];
    const ref = depthwiseGradsReference(x.values!, c.x, w.values!, g.values!, dy, c.k[0], c.s[0], typeof c.dil === 'number' ? c.dil : c.dil[0], pad);
    const dw = await runOn(under, 'DepthwiseConv2dNativeBackpropFilter', { x, dy: g }, { ...attrs, filterShape: filter });
    const dx = await runOn(under, 'DepthwiseConv2dNativeBackpropInput', { dy: g, filter: w }, { ...attrs, inputShape: c.x });
    expect(maxRelError(dw.values, ref.dw)).toBeLessThan(1e-4);
    expect(maxRelError(dx.values, ref.dx)).toBeLessThan(1e-4);
  });

  test('a depthwise conv with channel multiplier 2 falls back to the kernel registered before and still matches', async () => {
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: 1 };
    await expectMatchesCpu('DepthwiseConv2dNative', { x: spec([2, 6, 6, 3]), filter: spec([3, 3, 3, 2]) }, attrs);
  });

  test.each([
    ['3x3/2 same (the ResNet stem)', [2, 9, 8, 4], 3, 2, 'same'],
    ['3x3/2 explicit 1', [1, 10, 10, 3], 3, 2, 1],
    ['2x2/2 valid', [2, 8, 6, 5], 2, 2, 'valid'],
    ['3x3/1 same (overlapping windows)', [1, 7, 7, 2], 3, 1, 'same'],
  ] as const)('MaxPoolGrad %s', async (_name, shape, k, s, pad) => {
    // Distinct values, so the argmax (and hence the gradient) is unambiguous on both backends.
    const n = (shape as readonly number[]).reduce((p, q) => p * q, 1);
    const perm = spec([n]).values!.map((v, i) => v + i * 1e-3);
    const input = { shape: [...shape], values: perm };
    const info = tf.backend_util.computePool2DInfo(shape as unknown as [number, number, number, number], k, s, 1, pad as 'same');
    const out = await runOn('cpu', 'MaxPool', { x: input }, { filterSize: k, strides: s, pad, dimRoundingMode: undefined });
    await expectMatchesCpu('MaxPoolGrad', { dy: spec(info.outShape), input, output: { shape: out.shape, values: out.values } },
      { filterSize: k, strides: s, pad, dimRoundingMode: undefined });
  });

  test('fused batch norm forward and backward match the composed ops (float64 reference)', async () => {
    const { batchNormTraining } = await import('@busi/core');
    const shape = [2, 5, 6, 7];
    const xs = spec(shape).values!.map((v) => v * 3 + 10); // |mean| >> sigma: the precision-sensitive case
    const dys = spec(shape).values!;
    const gs = spec([7]).values!;
    const bs = spec([7]).values!;
    const run = async (fused: boolean) => {
      await tf.setBackend(fused ? under : 'cpu');
      const x = tf.tensor4d(xs, shape as [number, number, number, number]);
      const g = tf.tensor1d(gs);
      const b = tf.tensor1d(bs);
      const dy = tf.tensor4d(dys, shape as [number, number, number, number]);
      const stats: tf.Tensor[] = [];
      const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
        const r = batchNormTraining(xi, gi, bi, 1e-5);
        stats.push(r.mean, r.variance);
        return r.y;
      };
      const { value, grads } = tf.valueAndGrads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(f(xi, gi, bi), dy)) as tf.Scalar)([x, g, b]);
      const res = await Promise.all([...grads, ...stats].map((t) => t.data() as Promise<Float32Array>));
      tf.dispose([x, g, b, dy, value, ...grads, ...stats]);
      return res;
    };
    const ref = await run(false);
    const got = await run(true);
    for (let i = 0; i < ref.length; i++) expect(maxRelError(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThan(2e-4);
  });

  test.each([
    ['Sum', [2, 5, 6, 7], [0, 1, 2], false],
    ['Sum', [2, 5, 6, 7], [1, 2], true],
    ['Mean', [2, 5, 6, 7], [1, 2], false],
    ['Mean', [3, 4, 5], [0], true],
    ['Mean', [3, 4, 5], [-3, -2], false],
    ['Sum', [3, 4, 5], [2], false], // innermost: the wasm kernel's own case
    ['Sum', [3, 4, 5], [0, 2], false], // not contiguous: falls back
    ['Mean', [4, 6], null, false], // every axis
  ] as const)('%s of %j over axes %j (keepDims %s)', async (kernel, shape, axis, keepDims) => {
    await expectMatchesCpu(kernel, { x: spec([...shape]) }, { axis: axis == null ? null : [...axis], keepDims });
  });

  test.each([
    ['scale and offset', true, true],
    ['no scale, no offset', false, false],
  ] as const)('FusedBatchNorm (inference) with %s', async (_name, withScale, withOffset) => {
    const inputs: Record<string, ReturnType<typeof spec>> = { x: spec([2, 4, 5, 6]), mean: spec([6]), variance: { shape: [6], values: spec([6]).values!.map((v) => v * v + 0.1) } };
    if (withScale) inputs.scale = spec([6]);
    if (withOffset) inputs.offset = spec([6]);
    await expectMatchesCpu('FusedBatchNorm', inputs, { varianceEpsilon: 1e-5 });
  });

  test.each([
    ['Relu', [4, 32, 32, 17]],
    ['Sigmoid', [4, 32, 32, 17]],
    ['Sigmoid', [3, 7]], // small: the wasm kernel
  ] as const)('%s of %j', async (kernel, shape) => {
    const x = spec([...shape]);
    x.values = x.values!.map((v) => v * 30); // past the exp clamp on both sides
    await expectMatchesCpu(kernel, { x }, {});
  });

  test('Relu and Sigmoid keep NaN (the trainer\'s NaN guard relies on it)', async () => {
    await tf.setBackend(under);
    const x = tf.fill([4, 64, 64, 2], Number.NaN);
    const r = tf.relu(x);
    const s = tf.sigmoid(x);
    expect(Number.isNaN((await r.data())[5])).toBe(true);
    expect(Number.isNaN((await s.data())[5])).toBe(true);
    tf.dispose([x, r, s]);
  });

  test.each([
    ['Add', [4, 32, 32, 17], [4, 32, 32, 17]],
    ['Multiply', [4, 32, 32, 17], [17]],
    ['Multiply', [4, 1, 1, 17], [4, 32, 32, 17]], // squeeze-excite: the small operand first
    ['Add', [4, 32, 32, 17], [1, 32, 32, 17]],
    ['Multiply', [4, 32, 32, 17], [4, 32, 1, 17]],
    ['Multiply', [4, 32, 32, 16], [4, 32, 32, 1]], // inner run of 1: the wasm kernel
    ['Add', [4, 32, 1, 17], [4, 1, 32, 17]], // both broadcast: the wasm kernel
  ] as const)('%s of %j and %j', async (kernel, a, b) => {
    await expectMatchesCpu(kernel, { a: spec([...a]), b: spec([...b]) }, {});
  });

  test.each([
    ['Multiply by a scalar', 'Multiply', [4, 32, 32, 17], [], 2.5],
    ['Add a scalar', 'Add', [4, 32, 32, 17], [1], -0.75],
  ] as const)('%s', async (_name, kernel, a, b, value) => {
    await expectMatchesCpu(kernel, { a: spec([...a]), b: { shape: [...b], values: Float32Array.of(value) } }, {});
  });

  test('x·1 and x+0 share the input buffer (no copy) and still read as x', async () => {
    await tf.setBackend(under);
    const x = tf.tensor4d(spec([4, 32, 32, 17]).values!, [4, 32, 32, 17]);
    const before = tf.memory().numDataBuffers;
    const y = tf.mul(x, tf.scalar(1));
    const z = tf.add(tf.scalar(0), x);
    expect(tf.memory().numDataBuffers).toBe(before + 2); // only the two scalars
    expect(Array.from(await y.data())).toEqual(Array.from(await x.data()));
    x.dispose();
    expect(Array.from(await z.data()).slice(0, 5)).toEqual(Array.from(await y.data()).slice(0, 5));
    tf.dispose([y, z]);
  });

  test.each([
    ['two inputs', [[2, 9, 8, 5], [2, 9, 8, 7]], 3],
    ['three inputs, axis -1', [[1, 40, 40, 4], [1, 40, 40, 9], [1, 40, 40, 3]], -1],
    ['not the last axis: the kernel registered before', [[2, 30, 20, 6], [2, 31, 20, 6]], 1],
  ] as const)('Concat of %s', async (_name, shapes, axis) => {
    const specs = shapes.map((sh) => spec([...sh]));
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const ts = specs.map((sp) => tf.tensor(sp.values!, sp.shape));
      const y = tf.concat(ts, axis);
      const out = { shape: y.shape, values: (await y.data()) as Float32Array };
      tf.dispose([...ts, y]);
      return out;
    };
    const ref = await run('cpu');
    const got = await run(under);
    expect(got.shape).toEqual(ref.shape);
    expect(Array.from(got.values)).toEqual(Array.from(ref.values));
  });

  test('broadcastLayout finds the [outer, mid, inner] view or refuses', async () => {
    const { broadcastLayout } = await import('../src/native/kernels');
    expect(broadcastLayout([2, 3, 4, 5], [2, 3, 4, 5])).toEqual([1, 1, 120]);
    expect(broadcastLayout([2, 3, 4, 5], [5])).toEqual([1, 24, 5]);
    expect(broadcastLayout([2, 3, 4, 5], [2, 1, 1, 5])).toEqual([2, 12, 5]);
    expect(broadcastLayout([2, 3, 4, 5], [2, 1, 4, 1])).toBeNull();
    expect(broadcastLayout([2, 3, 4, 5], [3, 4, 6])).toBeNull();
    expect(broadcastLayout([4, 5], [3, 4, 5])).toBeNull();
  });

  test.each([
    ['3x3, 4 groups, stride 1, pad 1', [2, 7, 6, 8], 4, 8, 3, 1, [1, 1, 1, 1], 1],
    ['3x3, 2 groups, stride 2, asymmetric pad', [1, 9, 8, 6], 2, 4, 3, 2, [1, 0, 0, 1], 1],
    ['1x1, 8 groups, stride 1', [2, 5, 5, 16], 8, 16, 1, 1, [0, 0, 0, 0], 1],
    ['3x3, 32 groups of 4 (ResNeXt layer1), stride 2', [1, 10, 10, 128], 32, 128, 3, 2, [1, 1, 1, 1], 1],
    ['3x3 dense, dilation 2 (DeepLabV3+ ASPP)', [2, 11, 10, 5], 1, 6, 3, 1, [2, 2, 2, 2], 2],
    ['3x3 dense, dilation 3, uneven padding', [1, 13, 12, 4], 1, 3, 3, 1, [3, 1, 0, 3], 3],
    ['3x3 depthwise, dilation 2 (EfficientNet at output stride 16)', [2, 10, 9, 6], 6, 6, 3, 1, [2, 2, 2, 2], 2],
    ['3x3, 2 groups, dilation 2', [1, 12, 12, 8], 2, 4, 3, 1, [2, 2, 2, 2], 2],
  ] as const)('grouped / dilated conv through the native kernels matches the cpu path: %s', async (_name, xShape, groups, co, k, s, pad, dilation) => {
    const { torchConv2d } = await import('@busi/core');
    const xs = spec([...xShape]);
    const ks = spec([k, k, xShape[3] / groups, co]);
    const opts = { strides: [s, s] as [number, number], padding: [...pad] as [number, number, number, number], dilation, groups };
    const seed = spec([1]).values![0];
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xs.values!, xs.shape as [number, number, number, number]);
      const w = tf.tensor4d(ks.values!, ks.shape as [number, number, number, number]);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const y = torchConv2d(a as tf.Tensor4D, b as tf.Tensor4D, opts);
        return tf.sum(tf.mul(y, tf.sin(tf.add(tf.reshape(tf.range(0, y.size), y.shape), seed)))) as tf.Scalar;
      };
      const y = torchConv2d(x, w, opts);
      const { grads } = tf.valueAndGrads(f)([x, w]);
      const out = await Promise.all([y, ...grads].map((t) => t.data() as Promise<Float32Array>));
      tf.dispose([x, w, y, ...grads]);
      return out;
    };
    const ref = await run('cpu');
    expect(tf.getKernel('BusiTorchConv2D', 'cpu')).toBeUndefined();
    const got = await run(under);
    expect(tf.getKernel('BusiTorchConv2D', under)).toBeDefined();
    // y, dx, dW
    const errs = ref.map((r, i) => maxRelError(got[i], r));
    expect(errs.map((e) => e < 1e-4)).toEqual([true, true, true]);
  });

  test('results are bit-identical from run to run (partial sums combine in thread order)', async () => {
    const { batchNormTraining } = await import('@busi/core');
    await tf.setBackend(under);
    const x = tf.tensor4d(spec([4, 40, 40, 24]).values!, [4, 40, 40, 24]);
    const w = tf.tensor4d(spec([3, 3, 24, 1]).values!, [3, 3, 24, 1]);
    const g = tf.ones([24]);
    const b = tf.zeros([24]);
    const f = (xi: tf.Tensor, wi: tf.Tensor) => {
      const h = tf.depthwiseConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, 'same');
      const r = batchNormTraining(h, g, b, 1e-5);
      tf.dispose([r.mean, r.variance]);
      return tf.sum(tf.mul(tf.mean(r.y, [1, 2]), tf.range(0, 24))) as tf.Scalar;
    };
    const once = async () => {
      const grads = tf.grads(f)([x, w]);
      const out = await Promise.all(grads.map((t) => t.data()));
      tf.dispose(grads);
      return out.map((a) => Array.from(a));
    };
    const first = await once();
    for (let k = 0; k < 3; k++) expect(await once()).toEqual(first);
    tf.dispose([x, w, g, b]);
  });

  test('the fused batch-norm kernels are registered for the backend under test (and not on cpu)', () => {
    expect(tf.getKernel('BusiBatchNormTrainForward', under)).toBeDefined();
    expect(tf.getKernel('BusiBatchNormTrainBackward', under)).toBeDefined();
    expect(tf.getKernel('BusiBatchNormTrainForward', 'cpu')).toBeUndefined();
  });

  test.each([
    ['plain', [1, 5, 7], [1, 7, 3], false, false],
    ['transposeA', [2, 7, 5], [2, 7, 3], true, false],
    ['transposeB', [2, 5, 7], [2, 3, 7], false, true],
    ['both transposed', [3, 7, 5], [3, 3, 7], true, true],
    ['a broadcast over b', [1, 4, 6], [3, 6, 2], false, false],
    ['b broadcast over a', [3, 4, 6], [1, 6, 2], false, false],
  ] as const)('BatchMatMul %s', async (_name, a, b, transposeA, transposeB) => {
    await expectMatchesCpu('BatchMatMul', { a: spec([...a]), b: spec([...b]) }, { transposeA, transposeB });
  });

  (under === 'wasm' ? test : test.skip)('an int32 matmul falls back to the kernel registered before', async () => {
    // The stock wasm BatchMatMul (reached through the busi wasm kernels) has no int32 path: its own error proves the hand-off.
    const ints = (shape: number[]) => ({ shape, dtype: 'int32' as const, values: Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, (_, i) => (i % 5) - 2) });
    await expect(runOn(under, 'BatchMatMul', { a: ints([1, 3, 4]), b: ints([1, 4, 2]) }, { transposeA: false, transposeB: false }))
      .rejects.toThrow(/non-float32 tensors not yet supported/);
  });

  (under === 'wasm' ? test : test.skip)('threads can be set and are reported', () => {
    registerNativeKernels({ threads: 1 });
    expect(nativeKernelsInfo()).toMatchObject({ registered: true, threads: 1 });
    registerNativeKernels({ threads: 2 });
    expect(nativeKernelsInfo().threads).toBe(2);
    expect(() => registerNativeKernels({ threads: 0 })).toThrow(/threads must be a positive integer, got 0/);
    addon!.setThreads(0); // every core again, for the tests that follow in this worker
    expect(addon!.getThreads()).toBe(os.availableParallelism());
  });

  test('the addon rejects arrays that do not match the geometry, naming the problem', () => {
    const g = Int32Array.from([1, 4, 4, 2, 3, 3, 2, 4, 4, 1, 1, 1, 1, 1, 1]);
    expect(() => addon!.conv(0, new Float32Array(31), new Float32Array(36), new Float32Array(32), g)).toThrow(/array lengths do not match/);
    expect(() => addon!.conv(0, new Float32Array(32), new Float32Array(36), new Float32Array(32), new Int32Array(3))).toThrow(/geometry must be an Int32Array of 15 values/);
    expect(() => addon!.conv(0, [] as unknown as Float32Array, new Float32Array(36), new Float32Array(32), g)).toThrow(/argument a must be a Float32Array/);
    expect(() => addon!.conv(0, new Float32Array(32), new Float32Array(36), new Float32Array(32), g, 3)).toThrow(/groups must divide the input and output channels/);
    expect(() => addon!.conv(3, new Float32Array(32), new Float32Array(18), new Float32Array(32), g, 2)).toThrow(/groups apply to dense convolutions/);
    expect(() => addon!.matmul(new Float32Array(6), new Float32Array(6), new Float32Array(4), Int32Array.from([1, 1, 2, 2, 4, 0, 0]))).toThrow(/matmul array lengths/);
  });

  test('a conv training step through tf ops matches cpu and keeps numTensors flat', async () => {
    const xs = spec([2, 12, 12, 3]);
    const ws = [spec([3, 3, 3, 8]), spec([1, 1, 8, 6]), spec([3, 3, 6, 4])];
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xs.values!, xs.shape as [number, number, number, number]);
      const vars = ws.map((w) => tf.variable(tf.tensor4d(w.values!, w.shape as [number, number, number, number])));
      const loss = () => {
        let h = tf.relu(tf.conv2d(x, vars[0] as tf.Variable<tf.Rank.R4>, 2, 'same'));
        h = tf.conv2d(h, vars[1] as tf.Variable<tf.Rank.R4>, 1, 'valid');
        h = tf.conv2d(h, vars[2] as tf.Variable<tf.Rank.R4>, 1, [[0, 0], [1, 0], [0, 1], [0, 0]]);
        return tf.mean(tf.square(h)) as tf.Scalar;
      };
      const before = tf.memory().numTensors;
      let grads: Float32Array[] = [];
      for (let step = 0; step < 3; step++) {
        const { value, grads: g } = tf.variableGrads(loss);
        grads = await Promise.all(vars.map((v) => g[v.name].data() as Promise<Float32Array>));
        tf.dispose([value, ...Object.values(g)]);
        expect(tf.memory().numTensors).toBe(before);
      }
      tf.dispose([x, ...vars]);
      return grads;
    };
    const ref = await run('cpu');
    const got = await run(under);
    for (let i = 0; i < ref.length; i++) expect(maxRelError(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThan(1e-4);
  });
});
