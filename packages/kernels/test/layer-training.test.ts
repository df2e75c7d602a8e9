import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, GroupNorm, Linear, MaxPool2d, Resize } from '@busi/core';
import { loadNativeAddon } from '../src/native/addon';
import { registerNativeKernels, unregisterNativeKernels } from '../src/native/register';
import { registerNativeBackend } from '../src/native/backend';
import { maxRelError, randomValues, setupBackends } from './helpers';

// The native kernels (system BLAS) run the same checks when the addon is built: under wasm, and
// as the 'native' backend (JS-memory tensors). Mode: [label, backend, native kernels on wasm].
const modes: Array<[string, string, boolean]> = [['busi wasm kernels', 'wasm', false]];
if (loadNativeAddon()) modes.push(['busi wasm + native kernels', 'wasm', true], ['the native backend', 'native', false]);
else console.log(`layer-training: the native modes are skipped, the addon is not built (npm run build:native)`);

/**
 * A small network touching every busi core layer and op pattern the paper's models train through
 * (strided/grouped/depthwise/dilated convs, BN, GroupNorm, max-pool, nearest and both bilinear
 * resizes, swish, linear), so a kernel missing or wrong on wasm shows up as an error or a
 * gradient mismatch against the cpu backend.
 */
function buildLayers(): { layers: tfl.layers.Layer[]; run: (x: tf.Tensor4D) => tf.Scalar } {
  const stem = new Conv2d({ name: 'stem', filters: 8, kernelSize: 3, strides: 2, padding: 1, useBias: false });
  const bn = new BatchNorm2d({ name: 'bn' });
  const pool = new MaxPool2d({ name: 'pool', poolSize: 3, strides: 2, padding: 1 });
  const grouped = new Conv2d({ name: 'grouped', filters: 8, kernelSize: 3, padding: 1, groups: 2 });
  const depthwise = new Conv2d({ name: 'dw', filters: 8, kernelSize: 3, padding: 2, dilation: 2, groups: 8, useBias: false });
  const gn = new GroupNorm({ name: 'gn', groups: 2 });
  const upBilinear = new Resize({ name: 'up1', scale: 2, mode: 'bilinear', alignCorners: false });
  const upNearest = new Resize({ name: 'up2', scale: 2, mode: 'nearest' });
  const point = new Conv2d({ name: 'point', filters: 4, kernelSize: 1, strides: 2 });
  const toRef = new Resize({ name: 'up3', mode: 'bilinear', alignCorners: true });
  const head = new Linear({ name: 'fc', units: 3 });
  const layers = [stem, bn, pool, grouped, depthwise, gn, upBilinear, upNearest, point, toRef, head];
  const kw = { training: true };
  const run = (x: tf.Tensor4D): tf.Scalar => {
    let h = stem.apply(x, kw) as tf.Tensor;
    h = tf.relu(bn.apply(h, kw) as tf.Tensor);
    h = pool.apply(h, kw) as tf.Tensor;
    h = grouped.apply(h, kw) as tf.Tensor;
    h = depthwise.apply(h, kw) as tf.Tensor;
    h = gn.apply(h, kw) as tf.Tensor;
    h = tf.mul(h, tf.sigmoid(h));
    const feat = h;
    h = upNearest.apply(upBilinear.apply(h, kw) as tf.Tensor, kw) as tf.Tensor;
    h = point.apply(h, kw) as tf.Tensor;
    const mask = toRef.apply([h, x], kw) as tf.Tensor;
    const logits = head.apply(tf.mean(feat, [1, 2]), kw) as tf.Tensor;
    const target = tf.tensor(randomValues(mask.size, 99), mask.shape);
    return tf.add(tf.sum(tf.mul(tf.sigmoid(mask), target)), tf.sum(tf.square(logits))) as tf.Scalar;
  };
  return { layers, run };
}

describe.each(modes)('core layers train with the same gradients as on cpu (%s)', (_mode, backend, native) => {
  beforeAll(async () => {
    await setupBackends();
    if (native) expect(registerNativeKernels()).toBe(true);
    if (backend === 'native') expect(registerNativeBackend()).toBe(true);
  });
  afterAll(() => {
    if (native) unregisterNativeKernels();
  });

  test('forward+backward through every layer type', async () => {
    const x = { shape: [2, 19, 15, 3], values: randomValues(2 * 19 * 15 * 3, 5) };
    const net = buildLayers();
    // Build once so both backends share identical initial weights.
    await tf.setBackend('cpu');
    tf.tidy(() => net.run(tf.tensor4d(x.values, x.shape as [number, number, number, number])));
    const initial = net.layers.map((l) => l.getWeights().map((w) => w.dataSync().slice()));

    const gradsOn = async (backend: string) => {
      await tf.setBackend(backend);
      net.layers.forEach((l, i) => l.setWeights(l.getWeights().map((w, j) => tf.tensor(initial[i][j], w.shape))));
      const vars = net.layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
      const input = tf.tensor4d(x.values, x.shape as [number, number, number, number]);
      const { value, grads } = tf.variableGrads(() => net.run(input), vars);
      const out = { loss: value.dataSync()[0], grads: vars.map((v) => ({ name: v.name, values: grads[v.name].dataSync().slice() as Float32Array })) };
      tf.dispose([input, value, ...Object.values(grads)]);
      return out;
    };
    const ref = await gradsOn('cpu');
    const got = await gradsOn(backend);
    expect(got.grads.length).toBe(12);
    expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-4);
    for (let i = 0; i < ref.grads.length; i++) {
      const err = maxRelError(got.grads[i].values, ref.grads[i].values);
      if (!(err < 1e-3)) throw new Error(`gradient of ${ref.grads[i].name}: relative error ${err}`);
    }
  });

  test('a training step keeps the tensor count and the backend buffers flat', async () => {
    await tf.setBackend(backend);
    const net = buildLayers();
    const x = tf.tensor4d(randomValues(2 * 19 * 15 * 3, 6), [2, 19, 15, 3]);
    tf.dispose(net.run(x));
    const vars = net.layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
    const opt = tf.train.sgd(0.01);
    const step = () => tf.dispose(opt.minimize(() => net.run(x), true, vars) as tf.Scalar);
    step();
    const before = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    // Kernels that call others directly bypass the engine's count: the backend's own table catches their leaks.
    expect(tf.backend().numDataIds()).toBe(buffers);
    opt.dispose();
    x.dispose();
  });
});
