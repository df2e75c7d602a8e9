import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Adam, AdamW } from '../../src';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** PyTorch's Adam / AdamW update, in float64, written from torch/optim/adam.py's single-tensor path. */
function torchAdamReference(
  theta0: number[],
  grads: number[][],
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; decoupled: boolean },
): number[] {
  const theta = [...theta0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  grads.forEach((gStep, k) => {
    const step = k + 1;
    const bc1 = 1 - o.beta1 ** step;
    const bc2 = 1 - o.beta2 ** step;
    for (let i = 0; i < theta.length; i++) {
      let g = gStep[i];
      if (o.decoupled) theta[i] *= 1 - o.lr * o.wd;
      else g += o.wd * theta[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps;
      theta[i] -= (o.lr / bc1) * (m[i] / denom);
    }
  });
  return theta;
}

// Deterministic values of mixed sign and magnitude (including tiny gradients, where eps placement matters).
function values(n: number, seed: number, scale: number): number[] {
  return Array.from({ length: n }, (_, i) => scale * Math.sin(seed * 12.9898 + i * 78.233) * (i % 3 === 0 ? 1e-6 : 1));
}

function expectClose(actual: ArrayLike<number>, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (err > tol * Math.max(1, Math.abs(expected[i]))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (|err| ${err})`);
    }
  }
}

describe.each([
  ['Adam, L2 weight decay', false, 0.05],
  ['Adam, no weight decay', false, 0],
  ['AdamW, decoupled weight decay', true, 0.05],
])('%s', (_title, decoupled, wd) => {
  test('matches the float64 PyTorch update equations over 6 steps', () => {
    const n = 24;
    const theta0 = values(n, 1, 0.7);
    const grads = Array.from({ length: 6 }, (_, k) => values(n, k + 2, 0.3 + 0.2 * k));
    const o = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-8, wd, decoupled };
    const expected = torchAdamReference(theta0, grads, o);

    const opt = decoupled
      ? new AdamW({ learningRate: o.lr, beta1: o.beta1, beta2: o.beta2, weightDecay: wd })
      : new Adam({ learningRate: o.lr, beta1: o.beta1, beta2: o.beta2, weightDecay: wd });
    const theta = tf.variable(tf.tensor1d(theta0));
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.applyGradients({ [theta.name]: gt });
      gt.dispose();
    }
    expect(opt.iterations).toBe(6);
    expectClose(theta.dataSync(), expected, 2e-6);
    opt.dispose();
    theta.dispose();
  });
});

test('defaults follow PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0 for Adam and 1e-2 for AdamW', () => {
  expect(new Adam().getConfig()).toEqual({ learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  expect(new AdamW().getConfig()).toEqual({ learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2 });
  expect(() => new Adam({ beta1: 1 })).toThrow(/beta1 must be in \[0, 1\)/);
  expect(() => new AdamW({ weightDecay: -1 })).toThrow(/weightDecay must be >= 0/);
});

test('L2 and decoupled decay differ: with a zero gradient Adam moves by ~lr, AdamW by exactly lr·wd·θ', () => {
  const a = tf.variable(tf.tensor1d([2, -3]));
  const w = tf.variable(tf.tensor1d([2, -3]));
  const adam = new Adam({ learningRate: 0.1, weightDecay: 0.01 });
  const adamw = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
  const zero = tf.zeros([2]);
  adam.applyGradients({ [a.name]: zero });
  adamw.applyGradients({ [w.name]: zero });
  // L2: g = wd·θ is normalised by √v̂ (= |g|), so the first step is lr·sign(θ).
  expectClose(a.dataSync(), [2 - 0.1, -3 + 0.1], 1e-6);
  // Decoupled: only the shrink θ(1 − lr·wd); the Adam step of a zero gradient is 0.
  expectClose(w.dataSync(), [2 * (1 - 0.001), -3 * (1 - 0.001)], 1e-6);
  tf.dispose([a, w, zero]);
  adam.dispose();
  adamw.dispose();
});

test('a parameter that misses a step keeps its own step count (PyTorch per-parameter state)', () => {
  const o = { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0, decoupled: false };
  const p = tf.variable(tf.tensor1d([1, 2]));
  const q = tf.variable(tf.tensor1d([3]));
  const opt = new Adam({ learningRate: o.lr });
  const g = [
    [0.5, -1],
    [0.25, 0.1],
    [-0.3, 0.2],
  ];
  const gq = [[0.4], [-0.7]];
  opt.applyGradients({ [p.name]: tf.tensor1d(g[0]), [q.name]: tf.tensor1d(gq[0]) });
  opt.applyGradients({ [p.name]: tf.tensor1d(g[1]) });
  opt.applyGradients([
    { name: p.name, tensor: tf.tensor1d(g[2]) },
    { name: q.name, tensor: tf.tensor1d(gq[1]) },
  ]);
  expectClose(p.dataSync(), torchAdamReference([1, 2], g, o), 2e-6);
  expectClose(q.dataSync(), torchAdamReference([3], gq, o), 2e-6);
  opt.dispose();
});

test('getWeights / setWeights round trip continues the same trajectory; state is a snapshot', async () => {
  const theta0 = values(10, 3, 1);
  const grads = Array.from({ length: 4 }, (_, k) => values(10, k + 7, 0.5));
  const a = tf.variable(tf.tensor1d(theta0), true, 'opt_rt_a');
  const opt = new AdamW({ learningRate: 0.02, weightDecay: 0.1 });
  for (const g of grads.slice(0, 2)) opt.applyGradients({ [a.name]: tf.tensor1d(g) });
  const state = await opt.getWeights();
  expect(state.map((s) => s.name)).toEqual(['iter', 'opt_rt_a/m', 'opt_rt_a/v', 'opt_rt_a/step']);
  const mBefore = Array.from(state[1].tensor.dataSync());
  const weightsAt2 = tf.clone(a);

  for (const g of grads.slice(2)) opt.applyGradients({ [a.name]: tf.tensor1d(g) });
  expect(Array.from(state[1].tensor.dataSync())).toEqual(mBefore);
  const uninterrupted = Array.from(a.dataSync());

  const restored = new AdamW({ learningRate: 0.02, weightDecay: 0.1 });
  await restored.setWeights(state);
  tf.dispose(state.map((s) => s.tensor));
  expect(restored.iterations).toBe(2);
  a.assign(weightsAt2);
  for (const g of grads.slice(2)) restored.applyGradients({ [a.name]: tf.tensor1d(g) });
  expect(Array.from(a.dataSync())).toEqual(uninterrupted);

  await expect(restored.setWeights([{ name: 'x/m', tensor: tf.zeros([1]) }])).rejects.toThrow(/first entry must be 'iter'/);
  opt.dispose();
  restored.dispose();
});

test('registered for serialisation under Busi* class names', () => {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  for (const [cls, args] of [
    [Adam, { learningRate: 3e-4, weightDecay: 1e-4 }],
    [AdamW, { learningRate: 1e-4, beta2: 0.99 }],
  ] as const) {
    const opt = new cls(args);
    const [ctor, fromConfig] = map[cls.className];
    const copy = fromConfig(ctor, opt.getConfig()) as Adam;
    expect(copy).toBeInstanceOf(cls);
    expect(copy.getConfig()).toEqual(opt.getConfig());
  }
});

test('the first step adds exactly the two moment slots per variable; later steps keep the tensor count flat', () => {
  const v = tf.variable(tf.randomNormal([3, 4]));
  const g = tf.randomNormal([3, 4]);
  const opt = new Adam({ weightDecay: 0.1 });
  const before = tf.memory().numTensors;
  opt.applyGradients({ [v.name]: g });
  const after1 = tf.memory().numTensors;
  expect(after1).toBe(before + 2);
  for (let i = 0; i < 5; i++) opt.applyGradients({ [v.name]: g });
  expect(tf.memory().numTensors).toBe(after1);
  opt.dispose();
  tf.dispose([v, g]);
});
