import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { torchConv2d } from '../../src';
import type { Padding4, Pair } from '../../src/layers/util';

function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The previous formulation: materialise the zero padding, then a 'valid' conv. */
function padThenValid(x: tf.Tensor4D, k: tf.Tensor4D, strides: Pair, [pt, pb, pl, pr]: Padding4, depthwise: boolean): tf.Tensor4D {
  const xp = tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
  if (!depthwise) return tf.conv2d(xp, k, strides, 'valid');
  return tf.depthwiseConv2d(xp, tf.reshape(k, [k.shape[0], k.shape[1], k.shape[3], 1]) as tf.Tensor4D, strides, 'valid');
}

describe('torchConv2d explicit padding (no tf.pad copy)', () => {
  const cases: Array<{ x: [number, number, number, number]; k: [number, number]; co: number; s: Pair; p: Padding4; dw: boolean }> = [
    { x: [2, 7, 6, 3], k: [3, 3], co: 4, s: [1, 1], p: [1, 1, 1, 1], dw: false },
    { x: [1, 9, 8, 2], k: [3, 3], co: 3, s: [2, 2], p: [0, 1, 0, 1], dw: false },
    { x: [2, 11, 10, 3], k: [7, 7], co: 2, s: [2, 2], p: [3, 3, 3, 3], dw: false },
    { x: [1, 6, 7, 2], k: [3, 2], co: 2, s: [1, 2], p: [2, 0, 1, 1], dw: false },
    { x: [2, 8, 8, 4], k: [3, 3], co: 4, s: [1, 1], p: [1, 1, 1, 1], dw: true },
    { x: [1, 9, 9, 3], k: [5, 5], co: 3, s: [2, 2], p: [1, 2, 1, 2], dw: true },
  ];
  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s: value and gradients equal pad-then-valid', (_n, c) => {
    tf.tidy(() => {
      const groups = c.dw ? c.x[3] : 1;
      const kShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3] / groups, c.co];
      const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), 1), c.x);
      const k = tf.tensor4d(values(kShape.reduce((a, b) => a * b), 2), kShape);
      const opts = { strides: c.s, padding: c.p, dilation: 1, groups };
      const y = torchConv2d(x, k, opts);
      const ref = padThenValid(x, k, c.s, c.p, c.dw);
      expect(y.shape).toEqual(ref.shape);
      expect(maxAbsDiff(y.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
      const w = tf.tensor4d(values(ref.size, 3), ref.shape);
      const g = tf.grads((xi: tf.Tensor, ki: tf.Tensor) => tf.sum(tf.mul(torchConv2d(xi as tf.Tensor4D, ki as tf.Tensor4D, opts), w)))([x, k]);
      const gRef = tf.grads((xi: tf.Tensor, ki: tf.Tensor) =>
        tf.sum(tf.mul(padThenValid(xi as tf.Tensor4D, ki as tf.Tensor4D, c.s, c.p, c.dw), w)),
      )([x, k]);
      expect(maxAbsDiff(g[0].dataSync(), gRef[0].dataSync())).toBeLessThan(1e-4);
      expect(maxAbsDiff(g[1].dataSync(), gRef[1].dataSync())).toBeLessThan(1e-4);
    });
  });

  it('keeps no padded copy of the input on the gradient tape', () => {
    const x = tf.ones([1, 16, 16, 4]) as tf.Tensor4D;
    const k = tf.ones([3, 3, 4, 4]) as tf.Tensor4D;
    const before = tf.memory().numBytes;
    let held = 0;
    const g = tf.grad((xi: tf.Tensor) => {
      const y = torchConv2d(xi as tf.Tensor4D, k, { strides: [1, 1], padding: [1, 1, 1, 1], dilation: 1, groups: 1 });
      held = tf.memory().numBytes - before;
      return tf.sum(y);
    })(x);
    // The output (16·16·4 floats) plus the tape's aliases of x and k; a padded copy would add 18·18·4.
    expect(held).toBeLessThanOrEqual(3 * 16 * 16 * 4 * 4 + 3 * 3 * 4 * 4 * 4);
    expect(held).toBeLessThan(2 * 16 * 16 * 4 * 4 + 18 * 18 * 4 * 4);
    tf.dispose([x, k, g]);
  });
});
