/**
 * DeepLabV3+'s ASPP trains through dilated depthwise convs (Conv2d with groups = channels and
 * dilation, padding = dilation). Their gradients, on cpu and on wasm with the busi training
 * kernels, against float64 finite differences of a direct implementation.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2d } from '@busi/core';
import { initBackend } from '@busi/node';

function values(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  });
}

/** Depthwise 3×3 conv, dilation d, zero padding d, NHWC; kernel [3, 3, 1, C] (tfjs layout). */
function depthwiseRef(x: number[], [n, h, w, c]: number[], k: number[], d: number): number[] {
  const y: number[] = [];
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let a = 0; a < 3; a++)
            for (let e = 0; e < 3; e++) {
              const r = i + (a - 1) * d;
              const q = j + (e - 1) * d;
              if (r >= 0 && r < h && q >= 0 && q < w) s += k[(a * 3 + e) * c + ch] * x[((b * h + r) * w + q) * c + ch];
            }
          y.push(s);
        }
  return y;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(['cpu', 'wasm'])('dilated depthwise Conv2d gradients on %s', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await initBackend({ backend: 'wasm', log: false });
    else await tf.setBackend('cpu');
  });

  // Rate 2 leaves most taps inside; rate 5 on a 6×7 map leaves mostly padding, as rate 24/36 at 28².
  it.each([1, 2, 5])('rate %i: input and kernel gradients equal float64 finite differences', (d) => {
    const shape = [2, 6, 7, 4];
    const size = shape.reduce((a, b) => a * b, 1);
    const xs = values(size, 3);
    const ks = values(9 * 4, 5);
    const r = values(size, 7);
    const layer = new Conv2d({ name: 'dw', filters: 4, kernelSize: 3, padding: d, dilation: d, groups: 4, useBias: false });
    layer.apply(tfl.input({ shape: [6, 7, 4] }));
    layer.setWeights([tf.tensor4d(ks, [3, 3, 1, 4])]);
    const x = tf.tensor4d(xs, shape as [number, number, number, number]);
    const rt = tf.tensor4d(r, shape as [number, number, number, number]);
    const kernel = layer.trainableWeights[0].read() as tf.Variable;
    const f = () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, rt)) as tf.Scalar;
    const { grads } = tf.variableGrads(f, [kernel]);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, rt)))(x);

    const y = layer.apply(x) as tf.Tensor;
    expect(maxAbsDiff(y.dataSync(), depthwiseRef(xs, shape, ks, d))).toBeLessThan(1e-5);
    const loss = (xv: number[], kv: number[]) => depthwiseRef(xv, shape, kv, d).reduce((s, v, i) => s + v * r[i], 0);
    const h = 1e-3;
    const fdX = xs.map((_, i) => (loss(xs.map((v, j) => (j === i ? v + h : v)), ks) - loss(xs.map((v, j) => (j === i ? v - h : v)), ks)) / (2 * h));
    const fdK = ks.map((_, i) => (loss(xs, ks.map((v, j) => (j === i ? v + h : v))) - loss(xs, ks.map((v, j) => (j === i ? v - h : v)))) / (2 * h));
    expect(maxAbsDiff(dx.dataSync(), fdX)).toBeLessThan(1e-4);
    expect(maxAbsDiff(grads[kernel.name].dataSync(), fdK)).toBeLessThan(1e-4);
    tf.dispose([x, rt, dx, y, ...Object.values(grads)]);
    layer.dispose();
  });
});
