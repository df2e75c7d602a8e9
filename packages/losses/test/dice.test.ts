import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// registers tfjs-core's gradient functions (tfjs-core's Node build does not)
import '@tensorflow/tfjs-layers';
import { DiceLoss, lossFromConfig, serializeLoss } from '../src';
import { dicePaperRef, diceSmpRef, numericGrad, type Matrix } from './reference';

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
/** n images of h×w as flat rows, with the NHWC tensor. */
function randomCase(n: number, h: number, w: number, seed: number): { x: Matrix; t: Matrix } {
  const r = rng(seed);
  const x = Array.from({ length: n }, () => Array.from({ length: h * w }, () => (r() * 2 - 1) * 4));
  const t = Array.from({ length: n }, () => Array.from({ length: h * w }, () => (r() < 0.3 ? 1 : 0)));
  return { x, t };
}
const nhwc = (m: Matrix, h: number, w: number): tf.Tensor4D => tf.tensor4d(m.flat(), [m.length, h, w, 1]);

function value(loss: DiceLoss, x: Matrix, t: Matrix, h: number, w: number): number {
  return tf.tidy(() => loss.call(nhwc(x, h, w), nhwc(t, h, w)).arraySync() as number);
}
function analyticGrad(loss: DiceLoss, x: Matrix, t: Matrix, h: number, w: number): Matrix {
  return tf.tidy(() => {
    const target = nhwc(t, h, w);
    const g = tf.grad((v: tf.Tensor) => loss.call(v, target))(nhwc(x, h, w));
    return tf.reshape(g, [x.length, h * w]).arraySync() as Matrix;
  });
}
function expectClose(a: Matrix, b: Matrix, tol: number): void {
  a.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThan(tol)));
}

describe("DiceLoss (variant 'paper')", () => {
  it('matches a hand-computed value', () => {
    // p = 0.5 on 4 pixels, truth [1,0,0,0], smooth 1:
    // fg (2·0.5 + 1) / (2 + 1 + 1) = 0.5; bg (2·1.5 + 1) / (2 + 3 + 1) = 2/3; loss = 1 - 7/12
    expect(value(new DiceLoss(), [[0, 0, 0, 0]], [[1, 0, 0, 0]], 2, 2)).toBeCloseTo(5 / 12, 6);
    // smooth 0: fg 1/3, bg 3/5
    expect(value(new DiceLoss({ smooth: 0 }), [[0, 0, 0, 0]], [[1, 0, 0, 0]], 2, 2)).toBeCloseTo(1 - 7 / 15, 6);
  });

  it('matches the float64 reference per image and pooled, which differ', () => {
    const { x, t } = randomCase(3, 4, 5, 1);
    t[1] = t[1].map(() => 0); // one image with an empty truth
    const perImage = value(new DiceLoss(), x, t, 4, 5);
    const pooled = value(new DiceLoss({ averaging: 'batch' }), x, t, 4, 5);
    expect(perImage).toBeCloseTo(dicePaperRef(x, t, 'image'), 5);
    expect(pooled).toBeCloseTo(dicePaperRef(x, t, 'batch'), 5);
    expect(Math.abs(perImage - pooled)).toBeGreaterThan(1e-3);
    const s0 = new DiceLoss({ smooth: 0, eps: 1e-7 });
    expect(value(s0, x, t, 4, 5)).toBeCloseTo(dicePaperRef(x, t, 'image', 0), 5);
  });

  it('is ~0 for confident correct predictions, including an empty mask predicted empty', () => {
    const t = [[1, 0, 0, 1], [0, 0, 0, 0]];
    const x = t.map((r) => r.map((v) => (v ? 30 : -30)));
    expect(value(new DiceLoss(), x, t, 2, 2)).toBeCloseTo(0, 6);
    expect(value(new DiceLoss({ averaging: 'batch' }), x, t, 2, 2)).toBeCloseTo(0, 6);
    // the empty image predicted all-positive: fg = 1 / (4 + 1), bg = 1 / (0 + 4 + 1)
    expect(value(new DiceLoss(), [[30, 30, 30, 30]], [[0, 0, 0, 0]], 2, 2)).toBeCloseTo(1 - 0.2, 5);
  });

  it('accepts an [N, H, W] target for [N, H, W, 1] logits', () => {
    const { x, t } = randomCase(2, 3, 3, 2);
    const a = tf.tidy(() => new DiceLoss().call(nhwc(x, 3, 3), tf.tensor3d(t.flat(), [2, 3, 3])).arraySync());
    expect(a).toBeCloseTo(value(new DiceLoss(), x, t, 3, 3), 6);
    expect(() => new DiceLoss().call(nhwc(x, 3, 3), tf.zeros([2, 3, 4]))).toThrow(/element count/);
  });

  it('has gradients equal to central finite differences of the reference', () => {
    const { x, t } = randomCase(2, 3, 3, 3);
    for (const averaging of ['image', 'batch'] as const) {
      const fd = numericGrad((v) => dicePaperRef(v, t, averaging), x);
      expectClose(analyticGrad(new DiceLoss({ averaging }), x, t, 3, 3), fd, 1e-5);
    }
  });
});

describe("DiceLoss (variant 'smp')", () => {
  it('matches hand-computed values: batch-pooled, smooth 0', () => {
    // p = 0.5 on 4 pixels, truth [1,0,0,0]: score = 2·0.5 / (2 + 1) = 1/3
    expect(value(new DiceLoss({ variant: 'smp' }), [[0, 0, 0, 0]], [[1, 0, 0, 0]], 2, 2)).toBeCloseTo(2 / 3, 6);
    // pooled over 2 images: inter = 3 · 0.5, card = 4 · 0.5 + 3, score = 3/5
    const v = value(new DiceLoss({ variant: 'smp' }), [[0, 0], [0, 0]], [[1, 0], [1, 1]], 1, 2);
    expect(v).toBeCloseTo(1 - 3 / 5, 6);
  });

  it('matches the reference on random batches', () => {
    const { x, t } = randomCase(3, 4, 4, 4);
    expect(value(new DiceLoss({ variant: 'smp' }), x, t, 4, 4)).toBeCloseTo(diceSmpRef(x, t), 5);
    expect(value(new DiceLoss({ variant: 'smp', smooth: 1 }), x, t, 4, 4)).toBeCloseTo(diceSmpRef(x, t, 1), 5);
  });

  it('is exactly zero with a zero gradient when the batch has no positive pixel', () => {
    const { x } = randomCase(2, 3, 3, 5);
    const t = x.map((r) => r.map(() => 0));
    const l = new DiceLoss({ variant: 'smp' });
    expect(value(l, x, t, 3, 3)).toBe(0);
    analyticGrad(l, x, t, 3, 3).flat().forEach((g) => expect(g).toBe(0));
  });

  it('has gradients equal to central finite differences of the reference', () => {
    const { x, t } = randomCase(2, 3, 3, 6);
    const fd = numericGrad((v) => diceSmpRef(v, t), x);
    expectClose(analyticGrad(new DiceLoss({ variant: 'smp' }), x, t, 3, 3), fd, 1e-5);
  });

  it('validates options and round-trips its config', () => {
    expect(() => new DiceLoss({ variant: 'smp', averaging: 'image' })).toThrow(/batch/);
    expect(() => new DiceLoss({ smooth: -1 })).toThrow(/smooth/);
    const l = new DiceLoss({ variant: 'smp' });
    expect(l.getConfig()).toEqual({ variant: 'smp', averaging: 'batch', smooth: 0, eps: 1e-7 });
    expect(new DiceLoss().getConfig()).toEqual({ variant: 'paper', averaging: 'image', smooth: 1, eps: 1e-7 });
    const back = lossFromConfig(JSON.parse(JSON.stringify(serializeLoss(l))));
    expect(back).toBeInstanceOf(DiceLoss);
    expect(back.getConfig()).toEqual(l.getConfig());
  });

  it('does not leak tensors', () => {
    const { x, t } = randomCase(2, 3, 3, 7);
    const xs = nhwc(x, 3, 3);
    const ts = nhwc(t, 3, 3);
    const before = tf.memory().numTensors;
    for (const l of [new DiceLoss(), new DiceLoss({ variant: 'smp' })]) {
      tf.dispose(tf.grad((v: tf.Tensor) => l.call(v, ts))(xs));
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xs, ts]);
  });
});
