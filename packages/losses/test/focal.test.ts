import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// registers tfjs-core's gradient functions (tfjs-core's Node build does not)
import '@tensorflow/tfjs-layers';
import { FocalLoss, lossFromConfig, serializeLoss } from '../src';
import { focalSmpRef, focalSoftmaxRef, numericGrad, oneHot, type Matrix } from './reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function randomLogits(n: number, c: number, seed: number, scale = 3): Matrix {
  const r = rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: c }, () => (r() * 2 - 1) * scale));
}
function value(loss: FocalLoss, x: Matrix, target: tf.Tensor): number {
  return tf.tidy(() => loss.call(tf.tensor2d(x), target).arraySync() as number);
}
function analyticGrad(loss: FocalLoss, x: Matrix, target: tf.Tensor): Matrix {
  return tf.tidy(() => tf.grad((v: tf.Tensor) => loss.call(v, target))(tf.tensor2d(x)).arraySync() as Matrix);
}
function expectClose(a: Matrix, b: Matrix, tol: number): void {
  a.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThan(tol)));
}

describe('FocalLoss (softmax, paper Eq. 1)', () => {
  it('matches hand-computed values', () => {
    // uniform logits over 3 classes: p_t = 1/3, FL = (2/3)^2 ln 3
    const labels = tf.tensor1d([0], 'int32');
    expect(value(new FocalLoss(), [[0, 0, 0]], labels)).toBeCloseTo((4 / 9) * Math.log(3), 6);
    // gamma 0 is cross-entropy: -log softmax([2, 0])_0 = log(1 + e^-2)
    expect(value(new FocalLoss({ gamma: 0 }), [[2, 0]], labels)).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
    // alpha scales the term of the true class
    const a = value(new FocalLoss({ alpha: [0.1, 0.2, 0.7] }), [[0, 0, 0]], tf.tensor1d([2], 'int32'));
    expect(a).toBeCloseTo(0.7 * (4 / 9) * Math.log(3), 6);
    labels.dispose();
  });

  it('matches the float64 reference for random logits, all options and reductions', () => {
    const x = randomLogits(6, 3, 1);
    const y = [0, 2, 1, 1, 0, 2];
    const labels = tf.tensor1d(y, 'int32');
    const t = oneHot(y, 3);
    for (const gamma of [0, 0.5, 2, 3]) {
      for (const alpha of [null, 0.25, [0.2, 0.3, 0.5]]) {
        for (const reduction of ['mean', 'sum'] as const) {
          const ours = value(new FocalLoss({ gamma, alpha, reduction }), x, labels);
          expect(ours).toBeCloseTo(focalSoftmaxRef(x, t, gamma, alpha, reduction), 5);
        }
      }
    }
    const none = tf.tidy(() => new FocalLoss({ reduction: 'none' }).call(tf.tensor2d(x), labels).arraySync() as number[]);
    expect(none).toHaveLength(6);
    none.forEach((v, i) => expect(v).toBeCloseTo(focalSoftmaxRef([x[i]], [t[i]], 2, null), 5));
    labels.dispose();
  });

  it('accepts one-hot targets with the same result as integer labels', () => {
    const x = randomLogits(4, 3, 2);
    const y = [2, 0, 1, 2];
    const a = value(new FocalLoss(), x, tf.tensor1d(y, 'int32'));
    const b = value(new FocalLoss(), x, tf.tensor2d(oneHot(y, 3)));
    expect(a).toBeCloseTo(b, 6);
  });

  it('is stable for extreme logits and vanishes for confident correct predictions', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const correct = [[1000, 0, -1000], [-50, 60, 0]];
    expect(value(new FocalLoss(), correct, labels)).toBe(0);
    const g = analyticGrad(new FocalLoss({ gamma: 0.5 }), correct, labels);
    g.flat().forEach((v) => expect(Number.isFinite(v)).toBe(true));
    // confidently wrong: FL ≈ 1000 (log p_t = -1000, 1 - p_t = 1)
    expect(value(new FocalLoss(), [[-1000, 0, 0]], tf.tensor1d([0], 'int32'))).toBeCloseTo(1000 + Math.log(2), 2);
    labels.dispose();
  });

  it('has gradients equal to central finite differences of the reference', () => {
    const x = randomLogits(5, 3, 3);
    const y = [1, 0, 2, 2, 1];
    const t = oneHot(y, 3);
    const labels = tf.tensor1d(y, 'int32');
    for (const [gamma, alpha] of [[2, null], [1.5, [0.5, 1, 2]]] as const) {
      const ours = analyticGrad(new FocalLoss({ gamma, alpha: alpha as number[] | null }), x, labels);
      const fd = numericGrad((v) => focalSoftmaxRef(v, t, gamma, alpha as number[] | null), x);
      expectClose(ours, fd, 2e-5);
    }
    labels.dispose();
  });

  it('rejects bad arguments and shapes', () => {
    expect(() => new FocalLoss({ gamma: -1 })).toThrow(/gamma/);
    expect(() => new FocalLoss({ variant: 'x' as never })).toThrow(/variant/);
    const l = new FocalLoss({ alpha: [1, 2] });
    expect(() => value(l, [[0, 0, 0]], tf.tensor1d([0], 'int32'))).toThrow(/alpha/);
    expect(() => value(new FocalLoss(), [[0, 0, 0]], tf.tensor1d([0, 1], 'int32'))).toThrow(/labels/);
    expect(() => value(new FocalLoss(), [[0, 0, 0]], tf.tensor2d([[0, 1]]))).toThrow(/target/);
  });
});

describe("FocalLoss (variant 'smp')", () => {
  it('matches a hand-computed value: uniform logits give 3 · 0.25 · ln 2', () => {
    // each class: BCE = ln 2, p_t = 1/2, term = (1/2)^2 ln 2; summed over the 3 classes
    const v = value(new FocalLoss({ variant: 'smp' }), [[0, 0, 0]], tf.tensor1d([1], 'int32'));
    expect(v).toBeCloseTo(0.75 * Math.log(2), 6);
  });

  it("reduces 'mean' as a sum over classes of per-class batch means (= total / N, not / N·C)", () => {
    const x = randomLogits(4, 3, 4);
    const y = [0, 1, 2, 0];
    const labels = tf.tensor1d(y, 'int32');
    const mean = value(new FocalLoss({ variant: 'smp' }), x, labels);
    const sum = value(new FocalLoss({ variant: 'smp', reduction: 'sum' }), x, labels);
    expect(mean).toBeCloseTo(focalSmpRef(x, oneHot(y, 3), 2, null, 'mean'), 5);
    expect(sum).toBeCloseTo(focalSmpRef(x, oneHot(y, 3), 2, null, 'sum'), 5);
    expect(mean).toBeCloseTo(sum / 4, 5);
    labels.dispose();
  });

  it('matches the reference with alpha and other gammas, and its gradients match finite differences', () => {
    const x = randomLogits(5, 3, 5, 6);
    const y = [2, 2, 0, 1, 0];
    const t = oneHot(y, 3);
    const labels = tf.tensor1d(y, 'int32');
    for (const [gamma, alpha] of [[2, 0.25], [0, null], [1, 0.8]] as const) {
      const l = new FocalLoss({ variant: 'smp', gamma, alpha });
      expect(value(l, x, labels)).toBeCloseTo(focalSmpRef(x, t, gamma, alpha), 5);
      const fd = numericGrad((v) => focalSmpRef(v, t, gamma, alpha), x);
      expectClose(analyticGrad(l, x, labels), fd, 2e-5);
    }
    labels.dispose();
  });

  it('is finite with finite gradients for extreme logits', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const x = [[1000, -1000, -1000], [-1000, 1000, 1000]];
    for (const gamma of [0.5, 2]) {
      const l = new FocalLoss({ variant: 'smp', gamma });
      // the third class of sample 2 is confidently wrong: BCE = 1000, focal term 1
      expect(value(l, x, labels)).toBeCloseTo(1000 / 2, 3);
      analyticGrad(l, x, labels).flat().forEach((g) => expect(Number.isFinite(g)).toBe(true));
    }
    labels.dispose();
  });

  it('serialises and round-trips through lossFromConfig', () => {
    const l = new FocalLoss({ variant: 'smp', alpha: 0.25, gamma: 1, reduction: 'sum' });
    const json = JSON.parse(JSON.stringify(serializeLoss(l)));
    expect(json).toEqual({ className: 'FocalLoss', config: { alpha: 0.25, gamma: 1, reduction: 'sum', variant: 'smp' } });
    const back = lossFromConfig(json) as FocalLoss;
    const x = randomLogits(3, 3, 6);
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    expect(value(back, x, labels)).toBe(value(l, x, labels));
    labels.dispose();
  });

  it('does not leak tensors', () => {
    const x = tf.tensor2d(randomLogits(3, 3, 7));
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const before = tf.memory().numTensors;
    for (const variant of ['softmax', 'smp'] as const) {
      tf.dispose(tf.grad((v: tf.Tensor) => new FocalLoss({ variant, alpha: [1, 2, 3] }).call(v, labels))(x));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, labels]);
  });
});
