import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm2d, batchNormTraining } from '../../src';

// Deterministic pseudo-random values (no dependence on tf's RNG).
function values(n: number, seed: number, scale = 1, offset = 0): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1) * scale + offset;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The previous tfjs-op composition of training-mode BatchNorm2d (the gradient comes from tfjs's own op gradients). */
function composed(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const inv = tf.mul(tf.rsqrt(tf.add(variance, eps)), gamma);
  return tf.add(tf.mul(tf.sub(x, mean), inv), beta);
}

/** sum(w · BN(x)) in float64, NHWC flattened with C channels. */
function lossF64(x: number[], gamma: number[], beta: number[], w: number[], c: number, eps: number): number {
  const n = x.length / c;
  let loss = 0;
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * c + k];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * c + k] - mean) ** 2;
    v /= n;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < n; i++) loss += w[i * c + k] * ((x[i * c + k] - mean) * inv * gamma[k] + beta[k]);
  }
  return loss;
}

describe('batchNormTraining (fused custom gradient)', () => {
  const shape = [2, 3, 5, 4];
  const c = shape[3];
  const size = shape.reduce((a, b) => a * b, 1);
  // A large channel mean relative to σ exercises the centred backward formula.
  const xv = values(size, 1, 1.5, 3);
  const gv = values(c, 2, 0.5, 1);
  const bv = values(c, 3);
  const wv = values(size, 4);
  const eps = 1e-3;

  it('matches the op composition in value and in all gradients', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const g = tf.tensor1d(gv);
      const b = tf.tensor1d(bv);
      const w = tf.tensor4d(wv, shape as [number, number, number, number]);
      const fused = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
        const r = batchNormTraining(xi, gi, bi, eps);
        tf.dispose([r.mean, r.variance]);
        return r.y;
      };
      const yF = fused(x, g, b);
      const yC = composed(x, g, b, eps);
      expect(maxAbsDiff(yF.dataSync(), yC.dataSync())).toBeLessThan(1e-5);
      const gradsF = tf.grads((xi, gi, bi) => tf.sum(tf.mul(fused(xi, gi, bi), w)))([x, g, b]);
      const gradsC = tf.grads((xi, gi, bi) => tf.sum(tf.mul(composed(xi, gi, bi, eps), w)))([x, g, b]);
      for (let i = 0; i < 3; i++) {
        expect(gradsF[i].shape).toEqual(gradsC[i].shape);
        expect(maxAbsDiff(gradsF[i].dataSync(), gradsC[i].dataSync())).toBeLessThan(2e-4);
      }
    });
  });

  it('returns the biased batch statistics', () => {
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [size / c, c]);
      const r = batchNormTraining(x, tf.tensor1d(gv), tf.tensor1d(bv), eps);
      const m = tf.moments(x, [0]);
      expect(maxAbsDiff(r.mean.dataSync(), m.mean.dataSync())).toBeLessThan(1e-6);
      expect(maxAbsDiff(r.variance.dataSync(), m.variance.dataSync())).toBeLessThan(1e-6);
      tf.dispose([r.mean, r.variance]);
    });
  });

  it('gradients agree with float64 central finite differences', () => {
    const [dx, dg, db] = tf.tidy(() => {
      const w = tf.tensor4d(wv, shape as [number, number, number, number]);
      const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
        const r = batchNormTraining(xi, gi, bi, eps);
        tf.dispose([r.mean, r.variance]);
        return tf.sum(tf.mul(r.y, w));
      };
      return tf
        .grads(f)([tf.tensor4d(xv, shape as [number, number, number, number]), tf.tensor1d(gv), tf.tensor1d(bv)])
        .map((t) => Array.from(t.dataSync()));
    });
    const h = 1e-6;
    const numeric = (arr: number[], which: 0 | 1 | 2) =>
      arr.map((_, i) => {
        const plus = [xv, gv, bv].map((a) => a.slice());
        const minus = [xv, gv, bv].map((a) => a.slice());
        plus[which][i] += h;
        minus[which][i] -= h;
        return (lossF64(plus[0], plus[1], plus[2], wv, c, eps) - lossF64(minus[0], minus[1], minus[2], wv, c, eps)) / (2 * h);
      });
    const relErr = (got: number[], want: number[]) => maxAbsDiff(got, want) / Math.max(...want.map(Math.abs));
    expect(relErr(dx, numeric(xv, 0))).toBeLessThan(1e-3);
    expect(relErr(dg, numeric(gv, 1))).toBeLessThan(1e-4);
    expect(relErr(db, numeric(bv, 2))).toBeLessThan(1e-4);
  });

  it('keeps fewer bytes on the gradient tape than the composition', () => {
    // Peak bytes while tf.grads holds the tape: the fused op keeps x (shared), mean and 1/σ only.
    const peak = (f: (x: tf.Tensor) => tf.Tensor) => {
      const x = tf.randomNormal([2, 16, 16, 8]);
      const g = tf.ones([8]);
      const b = tf.zeros([8]);
      const before = tf.memory().numBytes;
      let held = 0;
      const grad = tf.grad((xi: tf.Tensor) => {
        const y = f(xi);
        // Runs while the forward's tape is still alive.
        held = tf.memory().numBytes - before;
        return tf.sum(tf.mul(y, g));
      })(x);
      tf.dispose([x, g, b, grad]);
      return held;
    };
    const ones = tf.ones([8]);
    const zeros = tf.zeros([8]);
    const fusedBytes = peak((xi) => {
      const r = batchNormTraining(xi, ones, zeros, 1e-5);
      tf.dispose([r.mean, r.variance]);
      return r.y;
    });
    const composedBytes = peak((xi) => composed(xi, ones, zeros, 1e-5));
    tf.dispose([ones, zeros]);
    const full = 2 * 16 * 16 * 8 * 4;
    // numBytes counts tensors, not buffers: the saved x is an alias of the input's buffer, and y.
    expect(fusedBytes).toBeLessThanOrEqual(2 * full + 1024);
    expect(composedBytes).toBeGreaterThanOrEqual(6 * full);
  });

  it('leaves no temporaries alive during the rest of the backward pass', () => {
    // Identity ops that record the live tensor count when their gradient runs: p2 just before
    // the batch norm's backward, p1 just after it.
    const counts: Record<string, number> = {};
    const probe = (name: string) =>
      tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
        value: tf.clone(args[0] as tf.Tensor),
        gradFunc: (dy: tf.Tensor) => {
          counts[name] = tf.memory().numTensors;
          return tf.clone(dy);
        },
      }));
    tf.tidy(() => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const g = tf.tensor1d(gv);
      const b = tf.tensor1d(bv);
      tf.grads((xi, gi, bi) => {
        const r = batchNormTraining(probe('p1')(xi), gi, bi, eps);
        tf.dispose([r.mean, r.variance]);
        return tf.sum(probe('p2')(r.y));
      })([x, g, b]);
    });
    // p2's returned dy plus dx, dγ, dβ, less the three saved tensors (x, mean, 1/σ) released
    // early; the closed form's ~18 temporaries must be gone.
    expect(counts.p1 - counts.p2).toBeLessThanOrEqual(1);
  });
});

describe('BatchNorm2d training', () => {
  function model(eps: number, momentum: number): tfl.LayersModel {
    const input = tfl.input({ shape: [3, 3, 2] });
    const out = new BatchNorm2d({ name: 'bn', eps, momentum }).apply(input) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: out });
  }

  it('updates the running statistics with PyTorch momentum and the unbiased variance', () => {
    const m = model(1e-5, 0.1);
    const xs = values(2 * 3 * 3 * 2, 7, 2, 1);
    tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 3, 3, 2]);
      m.apply(x, { training: true });
      const layer = m.getLayer('bn') as BatchNorm2d;
      const [, , rm, rv] = layer.torchParams().map((p) => Array.from(p.variable.read().dataSync()));
      const n = 18;
      for (let k = 0; k < 2; k++) {
        const ch = xs.filter((_, i) => i % 2 === k);
        const mean = ch.reduce((s, v) => s + v, 0) / n;
        const unbiased = ch.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
        expect(rm[k]).toBeCloseTo(0.1 * mean, 5);
        expect(rv[k]).toBeCloseTo(0.9 + 0.1 * unbiased, 5);
      }
    });
    m.dispose();
  });

  it('rejects a batch of one value per channel', () => {
    const input = tfl.input({ shape: [1, 1, 3] });
    const m = tfl.model({ inputs: input, outputs: new BatchNorm2d({ name: 'bn' }).apply(input) as tfl.SymbolicTensor });
    expect(() => tf.tidy(() => m.apply(tf.ones([1, 1, 1, 3]), { training: true }) as tf.Tensor)).toThrow(/more than one value per channel/);
    m.dispose();
  });

  it('inference uses the running statistics', () => {
    const m = model(1e-5, 0.1);
    tf.tidy(() => {
      const x = tf.tensor4d(values(18, 9), [1, 3, 3, 2]);
      const y = m.apply(x, { training: false }) as tf.Tensor;
      // Fresh running stats (mean 0, var 1), γ=1, β=0: y = x / sqrt(1 + eps).
      expect(maxAbsDiff(y.dataSync(), tf.div(x, Math.sqrt(1 + 1e-5)).dataSync())).toBeLessThan(1e-6);
    });
    m.dispose();
  });

  it('keeps tf.memory().numTensors flat over optimizer steps', () => {
    const m = model(1e-5, 0.1);
    const opt = tf.train.sgd(0.1);
    const x = tf.tensor4d(values(4 * 3 * 3 * 2, 11), [4, 3, 3, 2]);
    const target = tf.tensor4d(values(4 * 3 * 3 * 2, 12), [4, 3, 3, 2]);
    const step = () =>
      tf.tidy(() => {
        const cost = opt.minimize(() => tf.mean(tf.square(tf.sub(m.apply(x, { training: true }) as tf.Tensor, target))), true);
        cost?.dispose();
      });
    step();
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      step();
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    tf.dispose([x, target]);
    opt.dispose();
    m.dispose();
  });
});
