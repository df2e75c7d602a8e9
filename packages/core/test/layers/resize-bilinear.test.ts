import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Resize, resizeBilinearTorch } from '../../src';

function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  });
}

/** PyTorch's upsample_bilinear2d, written directly from its source-index rule, float64, NHWC. */
function bilinearRef(x: number[], shape: number[], oh: number, ow: number, alignCorners: boolean): number[] {
  const [n, h, w, c] = shape;
  const src = (dst: number, inS: number, outS: number) => {
    if (alignCorners) return outS > 1 ? (dst * (inS - 1)) / (outS - 1) : 0;
    const s = ((dst + 0.5) * inS) / outS - 0.5;
    return s < 0 ? 0 : s;
  };
  const y: number[] = [];
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++) {
      const sr = src(i, h, oh);
      const r0 = Math.floor(sr);
      const r1 = r0 < h - 1 ? r0 + 1 : r0;
      const lr = sr - r0;
      for (let j = 0; j < ow; j++) {
        const sc = src(j, w, ow);
        const c0 = Math.floor(sc);
        const c1 = c0 < w - 1 ? c0 + 1 : c0;
        const lc = sc - c0;
        for (let k = 0; k < c; k++) {
          const at = (r: number, q: number) => x[((b * h + r) * w + q) * c + k];
          y.push(
            (1 - lr) * ((1 - lc) * at(r0, c0) + lc * at(r0, c1)) + lr * ((1 - lc) * at(r1, c0) + lc * at(r1, c1)),
          );
        }
      }
    }
  return y;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// The forward pass is each backend's own kernel, so both backends are checked.
describe.each(['cpu', 'wasm'])('bilinear Resize (PyTorch F.interpolate semantics) on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
  });

  // Non-square maps so that a swapped height and width shows; 1x1 is DeepLabV3+'s image pooling.
  const cases: Array<[number[], number, number]> = [
    [[2, 3, 5, 2], 6, 10],
    [[1, 4, 3, 3], 16, 12],
    [[2, 1, 1, 2], 4, 3],
    [[1, 3, 4, 1], 3, 8],
    [[1, 5, 7, 2], 3, 4],
  ];

  for (const alignCorners of [true, false]) {
    for (const [shape, oh, ow] of cases) {
      const label = `align_corners=${alignCorners} [${shape}] -> ${oh}x${ow}`;

      it(`forward matches float64 reference: ${label}`, () => {
        const xs = values(shape.reduce((a, b) => a * b, 1), 7);
        const x = tf.tensor4d(xs, shape as [number, number, number, number]);
        const y = resizeBilinearTorch(x, [oh, ow], alignCorners);
        expect(y.shape).toEqual([shape[0], oh, ow, shape[3]]);
        expect(maxAbsDiff(y.dataSync(), bilinearRef(xs, shape, oh, ow, alignCorners))).toBeLessThan(1e-6);
        tf.dispose([x, y]);
      });

      it(`gradient matches float64 finite differences: ${label}`, () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const xs = values(size, 11);
        const r = values(shape[0] * oh * ow * shape[3], 13);
        const x = tf.tensor4d(xs, shape as [number, number, number, number]);
        const rt = tf.tensor4d(r, [shape[0], oh, ow, shape[3]]);
        const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(resizeBilinearTorch(xx as tf.Tensor4D, [oh, ow], alignCorners), rt)))(x);
        expect(dx.shape).toEqual(shape);
        const loss = (v: number[]) => bilinearRef(v, shape, oh, ow, alignCorners).reduce((s, y, i) => s + y * r[i], 0);
        const h = 1e-3;
        const fd = xs.map((_, i) => (loss(xs.map((v, j) => (j === i ? v + h : v))) - loss(xs.map((v, j) => (j === i ? v - h : v)))) / (2 * h));
        expect(maxAbsDiff(dx.dataSync(), fd)).toBeLessThan(1e-5);
        tf.dispose([x, rt, dx]);
      });
    }
  }

  it('the Resize layer uses it, by scale and to a reference size', () => {
    const xs = values(2 * 3 * 5 * 2, 3);
    const x = tf.tensor4d(xs, [2, 3, 5, 2]);
    const byScale = new Resize({ scale: 2, mode: 'bilinear', alignCorners: true }).apply(x) as tf.Tensor;
    expect(maxAbsDiff(byScale.dataSync(), bilinearRef(xs, [2, 3, 5, 2], 6, 10, true))).toBeLessThan(1e-6);
    const ref = tf.zeros([2, 7, 4, 1]);
    const toRef = new Resize({ mode: 'bilinear' }).apply([x, ref]) as tf.Tensor;
    expect(maxAbsDiff(toRef.dataSync(), bilinearRef(xs, [2, 3, 5, 2], 7, 4, false))).toBeLessThan(1e-6);
    tf.dispose([x, byScale, ref, toRef]);
  });

  it('keeps the tensor count flat across gradient steps', () => {
    const x = tf.variable(tf.tensor4d(values(24, 5), [1, 3, 4, 2]));
    const opt = tf.train.sgd(0.1);
    const step = () => tf.dispose(opt.minimize(() => tf.sum(tf.square(resizeBilinearTorch(x, [12, 16], false))) as tf.Scalar, true) ?? []);
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    opt.dispose();
  });
});
