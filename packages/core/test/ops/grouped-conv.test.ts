import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { defaultGroupsPerConv, groupedConv2d, groupedConv2dSplit, mergeGroups, splitGroups, torchConv2d } from '../../src';

/** The grouped kernel [kh, kw, cg, out] as the dense [kh, kw, g·cg, out] kernel it stands for (zeros off the diagonal blocks). */
function blockDiagonal(k: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [kh, kw, cg, cout] = k.shape;
  const cog = cout / groups;
  const mask = tf.buffer([1, 1, cg * groups, cout]);
  for (let c = 0; c < cg * groups; c++) {
    const g = Math.floor(c / cg);
    for (let o = g * cog; o < (g + 1) * cog; o++) mask.set(1, 0, 0, c, o);
  }
  return tf.mul(tf.tile(k, [1, 1, groups, 1]), mask.toTensor()) as tf.Tensor4D;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

type Conv = (x: tf.Tensor4D, k: tf.Tensor4D) => tf.Tensor4D;

/** Output and the gradients of sum(y · cotangent) with respect to x and k. */
function valueAndGrads(conv: Conv, x: tf.Tensor4D, k: tf.Tensor4D, cot: tf.Tensor) {
  const y = conv(x, k);
  const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), cot)))([x, k]);
  return { y, dx, dk };
}

const CASES = [
  { name: '3x3 stride 1, 4 groups of 2 -> 3', x: [2, 7, 9, 8], k: [3, 3, 2, 12], groups: 4, s: 1 },
  { name: '3x3 stride 2, 32 groups (ResNeXt-like, odd size)', x: [1, 7, 9, 64], k: [3, 3, 2, 64], groups: 32, s: 2 },
  { name: '1x3 stride [2,1], 3 groups', x: [1, 6, 5, 6], k: [1, 3, 2, 9], groups: 3, s: 1 },
];

describe('groupedConv2d', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  test('splitGroups / mergeGroups are inverse layout changes', () => {
    const src = Float32Array.from({ length: 2 * 3 * 6 }, (_, i) => i);
    const parts = splitGroups(src, [2, 3, 6], 3);
    expect(Array.from(parts[1].slice(0, 4))).toEqual([2, 3, 8, 9]);
    expect(Array.from(mergeGroups(parts, [2, 3, 2]))).toEqual(Array.from(src));
    expect(() => splitGroups(src, [2, 3, 6], 4)).toThrow(/divisible/);
  });

  test.each(CASES)('$name: equals the split and block-diagonal dense convs, values and gradients (cpu)', (c) => {
    tf.tidy(() => {
      const x = tf.randomNormal(c.x as [number, number, number, number], 0, 1, 'float32', 1) as tf.Tensor4D;
      const k = tf.randomNormal(c.k as [number, number, number, number], 0, 1, 'float32', 2) as tf.Tensor4D;
      const strides: [number, number] = c.name.includes('[2,1]') ? [2, 1] : [c.s, c.s];
      const ours = valueAndGrads((a, b) => groupedConv2d(a, b, strides, c.groups), x, k, tf.scalar(1));
      const cot = tf.randomNormal(ours.y.shape, 0, 1, 'float32', 3);
      const a = valueAndGrads((p, q) => groupedConv2d(p, q, strides, c.groups), x, k, cot);
      // Groups packed in pairs (the wasm default at <= 8 channels per group): block-diagonal kernels.
      const paired = valueAndGrads((p, q) => groupedConv2d(p, q, strides, c.groups, c.groups === 3 ? 3 : 2), x, k, cot);
      const split = valueAndGrads((p, q) => groupedConv2dSplit(p, q, strides, c.groups), x, k, cot);
      const dense = valueAndGrads((p, q) => tf.conv2d(p, blockDiagonal(q, c.groups), strides, 'valid'), x, k, cot);
      for (const ref of [paired, split, dense]) {
        expect(maxAbsDiff(a.y, ref.y)).toBeLessThan(1e-4);
        expect(maxAbsDiff(a.dx, ref.dx)).toBeLessThan(1e-4);
        expect(maxAbsDiff(a.dk, ref.dk)).toBeLessThan(1e-4);
      }
      // Not vacuous: the gradients are far from zero.
      expect(tf.max(tf.abs(a.dk)).dataSync()[0]).toBeGreaterThan(0.5);
    });
  });

  test('trains inside torchConv2d (padding, dilation) without leaking tensors', () => {
    const x = tf.randomNormal([2, 8, 8, 8], 0, 1, 'float32', 4) as tf.Tensor4D;
    const k = tf.variable(tf.randomNormal([3, 3, 2, 8], 0, 0.3, 'float32', 5)) as tf.Variable<tf.Rank.R4>;
    const opts = { strides: [1, 1] as [number, number], padding: [2, 2, 2, 2] as [number, number, number, number], dilation: 2, groups: 4 };
    const ref = tf.tidy(() => torchConv2d(x, blockDiagonal(k, 4), { ...opts, groups: 1 }));
    const y = torchConv2d(x, k, opts);
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-4);
    tf.dispose([y, ref]);
    const opt = tf.train.sgd(0.01);
    const loss = () => tf.mean(tf.square(torchConv2d(x, k as unknown as tf.Tensor4D, opts))) as tf.Scalar;
    const losses: number[] = [];
    let before = 0;
    for (let step = 0; step < 4; step++) {
      if (step === 1) before = tf.memory().numTensors;
      const l = opt.minimize(loss, true, [k])!;
      losses.push(l.dataSync()[0]);
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[3]).toBeLessThan(losses[0]);
    expect(() => groupedConv2d(x, tf.zeros([3, 3, 3, 8]) as tf.Tensor4D, [1, 1], 4)).toThrow(/groups=4/);
    expect(() => groupedConv2d(x, k as unknown as tf.Tensor4D, [1, 1], 4, 3)).toThrow(/groupsPerConv=3/);
    expect(defaultGroupsPerConv(32, 4, 'wasm')).toBe(2);
    expect(defaultGroupsPerConv(32, 16, 'wasm')).toBe(1);
    expect(defaultGroupsPerConv(32, 4, 'cpu')).toBe(1);
  });

  test('wasm forward agrees with cpu', async () => {
    const xv = tf.randomNormal([2, 9, 11, 64], 0, 1, 'float32', 6).arraySync() as number[][][][];
    const kv = tf.randomNormal([3, 3, 2, 64], 0, 1, 'float32', 7).arraySync() as number[][][][];
    const onCpu = tf.tidy(() => groupedConv2d(tf.tensor4d(xv), tf.tensor4d(kv), [2, 2], 32).arraySync());
    await tf.setBackend('wasm');
    try {
      const onWasm = tf.tidy(() => groupedConv2d(tf.tensor4d(xv), tf.tensor4d(kv), [2, 2], 32));
      expect(maxAbsDiff(onWasm, tf.tensor4d(onCpu))).toBeLessThan(1e-4);
      onWasm.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
