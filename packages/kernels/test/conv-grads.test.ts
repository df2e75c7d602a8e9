import * as tf from '@tensorflow/tfjs-core';
import { setSmallMapPixels } from '../src/wasm/conv-grads';
import { DENSE_CONV_CASES, depthwiseGradsReference, explicit, expectMatchesCpu, maxRelError, runOn, setupBackends, spec, type ConvCase } from './helpers';

type Case = ConvCase;
const dense = DENSE_CONV_CASES;

function convShapes(c: Case, depthwise: boolean, m = 1): { filter: number[]; dy: number[] } {
  const filter = depthwise ? [c.k[0], c.k[1], c.x[3], m] : [c.k[0], c.k[1], c.x[3], c.co];
  const info = tf.backend_util.computeConv2DInfo(
    c.x, filter as [number, number, number, number], c.s, c.dil ?? 1, c.pad, undefined, depthwise,
  );
  return { filter, dy: info.outShape };
}

beforeAll(async () => {
  await setupBackends();
});

// Every case runs twice: with the small-map matmul forms (im2col forward, col2im input gradient)
// and with them disabled (XNNPACK conv compositions), since the tests' maps are all small.
const paths = [['matmul forms', 4096], ['XNNPACK forms', 0]] as const;

describe.each(paths)('Conv2D and its gradients on wasm match cpu (%s)', (_path, pixels) => {
  let prev = 0;
  beforeAll(() => {
    prev = setSmallMapPixels(pixels);
  });
  afterAll(() => {
    setSmallMapPixels(prev);
  });
  test.each(dense.map((c) => [JSON.stringify(c), c] as const))('%s', async (_name, c) => {
    const { filter, dy } = convShapes(c, false);
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const w = spec(filter);
    await expectMatchesCpu('Conv2D', { x: spec(c.x), filter: w }, { ...attrs, dilations: 1 });
    await expectMatchesCpu('Conv2DBackpropFilter', { x: spec(c.x), dy: spec(dy) }, { ...attrs, filterShape: filter });
    await expectMatchesCpu('Conv2DBackpropInput', { dy: spec(dy), filter: w }, { ...attrs, inputShape: c.x });
  });
});

test('a filter seen before goes to the cached XNNPACK conv and gives the same result', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor4d(spec([2, 9, 8, 5]).values!, [2, 9, 8, 5]);
  const w = tf.tensor4d(spec([3, 3, 5, 4]).values!, [3, 3, 5, 4]);
  const first = tf.conv2d(x, w, [2, 1], [[0, 0], [1, 1], [0, 2], [0, 0]]);
  const second = tf.conv2d(x, w, [2, 1], [[0, 0], [1, 1], [0, 2], [0, 0]]);
  expect(maxRelError(second.dataSync() as Float32Array, first.dataSync() as Float32Array)).toBeLessThan(1e-5);
  tf.dispose([x, w, first, second]);
});

const depthwise: Array<Case & { m: number }> = [
  { x: [2, 7, 7, 3], k: [3, 3], co: 3, s: [1, 1], pad: 'same', m: 1 },
  { x: [2, 8, 7, 4], k: [3, 3], co: 4, s: [2, 2], pad: 'same', m: 1 },
  { x: [3, 9, 9, 2], k: [5, 5], co: 2, s: [2, 2], pad: explicit(2, 2, 2, 2), m: 1 },
  { x: [1, 6, 9, 3], k: [5, 3], co: 3, s: [1, 2], pad: 'valid', m: 1 },
  { x: [2, 7, 6, 3], k: [3, 3], co: 6, s: [1, 1], pad: explicit(1, 1, 0, 2), m: 2 },
];

describe('DepthwiseConv2dNative gradients on wasm match cpu', () => {
  test.each(depthwise.map((c) => [JSON.stringify(c), c] as const))('%s', async (_name, c) => {
    const { filter, dy } = convShapes(c, true, c.m);
    const attrs = { strides: c.s, pad: c.pad, dilations: c.dil ?? 1, dimRoundingMode: undefined };
    await expectMatchesCpu('DepthwiseConv2dNativeBackpropFilter', { x: spec(c.x), dy: spec(dy) }, { ...attrs, filterShape: filter });
    await expectMatchesCpu('DepthwiseConv2dNativeBackpropInput', { dy: spec(dy), filter: spec(filter) }, { ...attrs, inputShape: c.x });
  });
});

describe('dilated depthwise gradients on wasm match direct loops', () => {
  test.each([
    [2, 9, 1, 0],
    [2, 10, 2, 2],
    [3, 11, 1, 3],
  ])('dilation %i, size %i, stride %i, pad %i', async (d, size, s, pad) => {
    const xs = [2, size, size, 3];
    const k = 3;
    const out = Math.floor((size + 2 * pad - (k - 1) * d - 1) / s) + 1;
    const ds = [2, out, out, 3];
    const x = spec(xs);
    const w = spec([k, k, 3, 1]);
    const dy = spec(ds);
    const attrs = { strides: [s, s], pad: explicit(pad, pad, pad, pad), dilations: [d, d], dimRoundingMode: undefined };
    const ref = depthwiseGradsReference(x.values!, xs, w.values!, dy.values!, ds, k, s, d, pad);
    const dw = await runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [k, k, 3, 1] });
    const dx = await runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xs });
    expect(maxRelError(dw.values, ref.dw)).toBeLessThan(1e-4);
    expect(maxRelError(dx.values, ref.dx)).toBeLessThan(1e-4);
  });
});

describe('conv gradient kernels free their intermediates', () => {
  test('no wasm tensors or heap data leak across repeated gradient calls', async () => {
    const x = tf.tensor(spec([2, 9, 9, 4]).values!, [2, 9, 9, 4]);
    const w = tf.tensor(spec([3, 3, 4, 5]).values!, [3, 3, 4, 5]);
    const dw = tf.tensor(spec([3, 3, 4, 1]).values!, [3, 3, 4, 1]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.add(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 2, 'same'))));
    const g = tf.grads(f);
    const step = () => tf.dispose(g([x, w, dw]));
    step();
    const backend = tf.backend() as unknown as { dataIdMap: { numDataIds(): number } };
    const tensors = tf.memory().numTensors;
    const data = backend.dataIdMap.numDataIds();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.dataIdMap.numDataIds()).toBe(data);
    tf.dispose([x, w, dw]);
  });
});
