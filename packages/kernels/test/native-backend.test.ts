import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadNativeAddon, nativeAddonStatus, NativeBackend, resetNativeAddonCache } from '../src';
import { randomValues } from './helpers';

const built = loadNativeAddon() != null;
if (!built) console.log(`native backend tests skipped: busi native addon ${nativeAddonStatus().reason}`);
const describeBuilt = built ? describe : describe.skip;

describeBuilt("the 'native' backend", () => {
  const saved = { path: process.env.BUSI_NATIVE_PATH, native: process.env.BUSI_NATIVE };
  afterEach(() => {
    for (const [key, value] of [['BUSI_NATIVE_PATH', saved.path], ['BUSI_NATIVE', saved.native]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetNativeAddonCache();
  });
  afterAll(() => loadNativeAddon()?.setThreads(0));

  test('it starts when asked for (auto keeps wasm); tensors live in ordinary typed arrays', async () => {
    expect((await initBackend({ log: false })).backend).toBe('wasm');
    const d = await initBackend({ backend: 'native', log: false });
    expect(d.backend).toBe('native');
    expect(tf.getBackend()).toBe('native');
    expect(d.trainingKernels).toBe(true);
    expect(d.summary).toMatch(/^busi backend: native \(@busi\/kernels \(tfjs-backend-cpu tensors \+ busi native addon\), native kernels on \d+ threads?\) \[forced: native\]$/);
    const t = tf.ones([2, 3]);
    const b = tf.backend() as NativeBackend;
    expect(b).toBeInstanceOf(NativeBackend);
    expect(b.data.get(t.dataId).values).toBeInstanceOf(Float32Array);
    t.dispose();
  });

  test('forced, with threads; native: false turns it off (an error when forced)', async () => {
    const d = await initBackend({ backend: 'native', nativeThreads: 1, log: false });
    expect(d.summary).toMatch(/native kernels on 1 thread\) \[forced: native\]$/);
    expect(loadNativeAddon()!.getThreads()).toBe(1);
    await expect(initBackend({ backend: 'native', native: false, log: false })).rejects.toThrow(/'native' requested with the native addon turned off/);
  });

  test('without the addon, forcing it is an error naming the file', async () => {
    process.env.BUSI_NATIVE_PATH = '/nonexistent/busi_native.node';
    resetNativeAddonCache();
    await expect(initBackend({ backend: 'native', log: false })).rejects.toThrow(/backend 'native' requested but the addon is not built \(no \/nonexistent\/busi_native\.node/);
  });

  // Every elementwise op of the native backend's JS layer against the cpu backend, bit for bit,
  // over each broadcast layout it takes (and two it hands back to the cpu kernels).
  const layouts: Array<[string, number[], number[]]> = [
    ['same shapes', [2, 5, 6, 7], [2, 5, 6, 7]],
    ['a scalar b', [3, 40], [1]],
    ['a scalar a', [], [4, 5, 6]],
    ['per-channel b', [2, 4, 4, 9], [9]],
    ['per-channel a', [9], [2, 4, 4, 9]],
    ['squeeze-excite b', [2, 5, 5, 6], [2, 1, 1, 6]],
    ['squeeze-excite a', [2, 1, 1, 6], [2, 5, 5, 6]],
    ['both broadcast (cpu kernel)', [3, 1], [1, 4]],
    ['a middle axis (cpu kernel)', [2, 3, 4], [2, 1, 4]],
  ];
  const binary: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
    ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div],
    ['maximum', tf.maximum], ['minimum', tf.minimum], ['squaredDifference', tf.squaredDifference],
  ];
  const on = async (backend: string, f: () => tf.Tensor): Promise<{ shape: number[]; values: number[] }> => {
    await tf.setBackend(backend);
    const y = f();
    const out = { shape: y.shape, values: Array.from(await y.data()) };
    y.dispose();
    return out;
  };
  /** Every binary op on `as` and `bs` (random values, a NaN, no zero divisor) on native against cpu, bit for bit. */
  const expectBinaryOpsLikeCpu = async (as: number[], bs: number[], seed: number) => {
    await initBackend({ backend: 'native', log: false });
    const av = randomValues(as.reduce((p, q) => p * q, 1), seed);
    const bv = randomValues(bs.reduce((p, q) => p * q, 1), seed + 1).map((v) => (v === 0 ? 0.5 : v));
    av[0] = NaN;
    for (const [name, op] of binary) {
      const f = () => tf.tidy(() => op(tf.tensor(av, as), tf.tensor(bv, bs)));
      expect({ name, ...(await on('native', f)) }).toEqual({ name, ...(await on('cpu', f)) });
    }
  };
  test.each(layouts)('binary ops equal the cpu kernels bit for bit: %s', (_name, as, bs) => expectBinaryOpsLikeCpu(as, bs, 11));

  test('unary ops equal the cpu kernels bit for bit (NaN, zero and negatives included)', async () => {
    await initBackend({ backend: 'native', log: false });
    const v = Float32Array.from([...randomValues(1000, 21), 0, -0, NaN, 3.5, -2]);
    const pos = v.map(Math.abs);
    const ops: Array<[string, () => tf.Tensor]> = [
      ['sqrt', () => tf.sqrt(tf.tensor(pos))], ['rsqrt', () => tf.rsqrt(tf.tensor(pos))], ['square', () => tf.square(tf.tensor(v))],
      ['neg', () => tf.neg(tf.tensor(v))], ['exp', () => tf.exp(tf.tensor(v))], ['log', () => tf.log(tf.tensor(pos))],
      ['abs', () => tf.abs(tf.tensor(v))], ['reciprocal', () => tf.reciprocal(tf.tensor(v))], ['step', () => tf.step(tf.tensor(v), 0.25)],
    ];
    for (const [name, f] of ops) {
      const g = () => tf.tidy(f);
      expect({ name, ...(await on('native', g)) }).toEqual({ name, ...(await on('cpu', g)) });
    }
    // int32 goes to the cpu kernels.
    expect(await on('native', () => tf.tidy(() => tf.abs(tf.tensor([-3, 4], [2], 'int32'))))).toEqual({ shape: [2], values: [3, 4] });
  });

  // The same ops on tensors above ELEMENTWISE_MIN values, where the addon's kernels take them
  // (binaryOp, broadcastOp, unaryOp), and the layouts only the general broadcast takes.
  const large: Array<[string, number[], number[]]> = [
    ['same shapes', [4, 24, 24, 16], [4, 24, 24, 16]],
    ['a scalar b', [70000], [1]],
    ['a scalar a', [], [4, 64, 64, 2]],
    ['per-channel b', [4, 24, 24, 16], [16]],
    ['squeeze-excite a', [4, 1, 1, 16], [4, 24, 24, 16]],
    ['nearest upsampling: an output larger than either input', [2, 24, 1, 24, 1, 16], [1, 1, 2, 1, 2, 1]],
    ['both broadcast', [300, 1], [1, 300]],
    ['a middle axis', [20, 30, 40], [20, 1, 40]],
  ];
  test.each(large)('large binary ops equal the cpu kernels bit for bit: %s', (_name, as, bs) => expectBinaryOpsLikeCpu(as, bs, 13));

  test('large unary ops equal the cpu kernels bit for bit', async () => {
    await initBackend({ backend: 'native', log: false });
    const v = Float32Array.from([...randomValues(40000, 22), 0, -0, NaN, 3.5, -2, 1e-30, 3e38]);
    const pos = v.map(Math.abs);
    const ops: Array<[string, () => tf.Tensor]> = [
      ['sqrt', () => tf.sqrt(tf.tensor(pos))], ['rsqrt', () => tf.rsqrt(tf.tensor(pos))], ['square', () => tf.square(tf.tensor(v))],
      ['neg', () => tf.neg(tf.tensor(v))], ['abs', () => tf.abs(tf.tensor(v))], ['reciprocal', () => tf.reciprocal(tf.tensor(v))],
      ['step', () => tf.step(tf.tensor(v), 0.25)],
    ];
    for (const [name, f] of ops) {
      const g = () => tf.tidy(f);
      expect({ name, ...(await on('native', g)) }).toEqual({ name, ...(await on('cpu', g)) });
    }
  });

  test('large sums over any axes match the cpu kernel', async () => {
    await initBackend({ backend: 'native', log: false });
    const x = randomValues(2 * 24 * 2 * 24 * 2 * 8, 41);
    const cases: Array<[number[], number[] | number | undefined, boolean]> = [
      [[2, 24, 2, 24, 2, 8], [2, 4], false], // the gradient of a nearest-neighbour upsampling
      [[2, 24, 2, 24, 2, 8], [4, 2], true],
      [[8, 48, 48, 2], [1, 2, 3], false],
      [[8, 48, 48, 2], undefined, false],
      [[8, 48, 48, 2], -1, true],
      [[8, 48, 48, 2], [0, 3], false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const f = () => tf.tidy(() => tf.sum(tf.tensor(x, shape), axis, keepDims));
      const got = await on('native', f);
      const ref = await on('cpu', f);
      expect({ shape, axis, s: got.shape }).toEqual({ shape, axis, s: ref.shape });
      // The native sum accumulates in double, the cpu kernel in float: equal to float rounding.
      const worst = Math.max(...got.values.map((v, i) => Math.abs(v - ref.values[i]) / Math.max(1, Math.abs(ref.values[i]))));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  test('large pads and max pools equal the cpu kernels bit for bit', async () => {
    await initBackend({ backend: 'native', log: false });
    const x = randomValues(2 * 40 * 36 * 12, 51);
    x[7] = NaN;
    const cases: Array<() => tf.Tensor> = [
      () => tf.pad(tf.tensor(x, [2, 40, 36, 12]), [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity),
      () => tf.pad(tf.tensor(x, [2, 40, 36, 12]), [[1, 0], [0, 2], [3, 1], [0, 1]], 0.5),
      () => tf.maxPool(tf.tensor(x, [2, 40, 36, 12]) as tf.Tensor4D, 3, 2, 'same'),
      () => tf.maxPool(tf.tensor(x, [2, 40, 36, 12]) as tf.Tensor4D, 2, 2, 'valid'),
      () => tf.maxPool(tf.tensor(x, [2, 40, 36, 12]) as tf.Tensor4D, [3, 2], [1, 2], 1),
    ];
    for (const [i, c] of cases.entries()) expect({ i, ...(await on('native', () => tf.tidy(c))) }).toEqual({ i, ...(await on('cpu', () => tf.tidy(c))) });
  });

  test('slices and splits copy in place and equal the cpu kernels', async () => {
    await initBackend({ backend: 'native', log: false });
    const x = randomValues(2 * 7 * 6 * 5, 31);
    const cases: Array<() => tf.Tensor> = [
      () => tf.slice(tf.tensor(x, [2, 7, 6, 5]), [1, 2, 1, 1], [1, 3, 4, 3]),
      () => tf.concat(tf.split(tf.tensor(x, [2, 7, 6, 5]), [1, 4], 3).reverse(), 3),
      () => tf.stack(tf.unstack(tf.tensor(x, [2, 7, 6, 5]), 1), 0),
    ];
    for (const c of cases) expect(await on('native', () => tf.tidy(c))).toEqual(await on('cpu', () => tf.tidy(c)));
  });
});
