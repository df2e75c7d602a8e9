import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { GroupNorm } from '../../src';

// Deterministic pseudo-random values (no dependence on tf's RNG).
function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  });
}

/** PyTorch GroupNorm in float64 on an NHWC array. */
function groupNormRef(x: number[], shape: number[], groups: number, gamma: number[], beta: number[], eps: number): number[] {
  const [n, h, w, c] = shape;
  const cg = c / groups;
  const y = new Array<number>(x.length);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let i = 0; i < h * w; i++) for (let k = 0; k < cg; k++) idx.push((b * h * w + i) * c + g * cg + k);
      const mean = idx.reduce((s, j) => s + x[j], 0) / idx.length;
      const v = idx.reduce((s, j) => s + (x[j] - mean) ** 2, 0) / idx.length;
      for (const j of idx) y[j] = ((x[j] - mean) / Math.sqrt(v + eps)) * gamma[j % c] + beta[j % c];
    }
  }
  return y;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('GroupNorm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const shape = [2, 3, 4, 8];
  const size = shape.reduce((a, b) => a * b, 1);
  const xs = values(size, 1).map((v, i) => v * 3 + (i % 8)); // per-channel offsets, so wrong grouping shows
  const gamma = values(8, 2).map((v) => 1 + 0.5 * v);
  const beta = values(8, 3);
  const r = values(size, 4);

  function makeLayer(groups: number): GroupNorm {
    const layer = new GroupNorm({ name: 'gn', groups });
    layer.apply(tfl.input({ shape: [null, null, 8] }));
    layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta)]);
    return layer;
  }

  it.each([1, 2, 4, 8])('matches a float64 PyTorch reference with %i groups', (groups) => {
    const layer = makeLayer(groups);
    const y = layer.apply(tf.tensor4d(xs, shape as [number, number, number, number])) as tf.Tensor;
    const ref = groupNormRef(xs, shape, groups, gamma, beta, 1e-5);
    expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(2e-5);
    tf.dispose(y);
    layer.dispose();
  });

  it('has gradients (input, weight, bias) equal to float64 finite differences', () => {
    const groups = 4;
    const layer = makeLayer(groups);
    const x = tf.tensor4d(xs, shape as [number, number, number, number]);
    const rt = tf.tensor4d(r, shape as [number, number, number, number]);
    const [gv, bv] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, rt)) as tf.Scalar, [gv, bv]);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, rt)))(x);

    const loss = (xv: number[], g: number[], b: number[]) =>
      groupNormRef(xv, shape, groups, g, b, 1e-5).reduce((s, v, i) => s + v * r[i], 0);
    const h = 1e-5;
    const fd = (f: (d: number) => number) => (f(h) - f(-h)) / (2 * h);
    const fdX = xs.map((_, i) => fd((d) => loss(xs.map((v, j) => (j === i ? v + d : v)), gamma, beta)));
    const fdG = gamma.map((_, i) => fd((d) => loss(xs, gamma.map((v, j) => (j === i ? v + d : v)), beta)));
    const fdB = beta.map((_, i) => fd((d) => loss(xs, gamma, beta.map((v, j) => (j === i ? v + d : v)))));

    const scale = Math.max(...fdX.map(Math.abs));
    expect(maxAbsDiff(dx.dataSync(), fdX) / scale).toBeLessThan(1e-3);
    expect(maxAbsDiff(grads[gv.name].dataSync(), fdG)).toBeLessThan(1e-3);
    expect(maxAbsDiff(grads[bv.name].dataSync(), fdB)).toBeLessThan(1e-3);
    tf.dispose([x, rt, dx, ...Object.values(grads)]);
    layer.dispose();
  });

  it('exposes PyTorch names, serialises, and rejects channels not divisible by groups', () => {
    const layer = makeLayer(4);
    expect(layer.torchParams().map((p) => p.name)).toEqual(['gn.weight', 'gn.bias']);
    const cfg = layer.getConfig();
    expect(cfg).toMatchObject({ groups: 4, eps: 1e-5, affine: true });
    const clone = GroupNorm.fromConfig(GroupNorm, cfg) as GroupNorm;
    expect(clone.groups).toBe(4);
    expect(() => new GroupNorm({ name: 'bad', groups: 3 }).apply(tfl.input({ shape: [4, 4, 8] }))).toThrow(/not divisible/);
    layer.dispose();
  });

  it('keeps the tensor count flat across training steps', () => {
    const layer = makeLayer(2);
    const x = tf.tensor4d(xs, shape as [number, number, number, number]);
    const opt = tf.train.sgd(0.01);
    const step = () =>
      tf.dispose(opt.minimize(() => tf.sum(tf.square(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, true) ?? []);
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    opt.dispose();
    layer.dispose();
  });
});
