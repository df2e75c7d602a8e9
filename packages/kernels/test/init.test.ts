import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend, loadNativeAddon, nativeKernelsInfo, resetNativeAddonCache } from '../src';

describe('initBackend', () => {
  const saved = process.env.BUSI_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.BUSI_BACKEND;
    else process.env.BUSI_BACKEND = saved;
  });

  test('auto skips the absent tfjs-node packages and a missing or software WebGPU adapter, and picks wasm with training kernels', async () => {
    delete process.env.BUSI_BACKEND;
    const d = await initBackend({ log: false });
    const expected = 'wasm';
    expect(d.backend).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
    expect(d.trainingKernels).toBe(true);
    // CUDA libtensorflow, then a hardware WebGPU adapter (this machine has none), then libtensorflow on the CPU.
    expect(d.skipped.map((s) => s.backend)).toEqual(['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-node']);
    // The reason a user reads, not the loader's own words ("Dynamic require of … is not supported").
    expect([d.skipped[0].reason, d.skipped[2].reason]).toEqual(['not installed', 'not installed']);
    expect(d.skipped[1].reason).toMatch(/no WebGPU adapter|only a software adapter/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(describeBackend()).toBe(d);
    const w = await initBackend({ backend: 'wasm', log: false });
    expect(w.backend).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  test('BUSI_BACKEND forces cpu; an explicit option beats the variable', async () => {
    process.env.BUSI_BACKEND = 'cpu';
    const d = await initBackend({ log: false });
    expect(d.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(d.summary).toContain('forced: cpu');
    const w = await initBackend({ backend: 'wasm', log: false });
    expect(w.backend).toBe('wasm');
  });

  test('forcing an unavailable or unknown backend is an error, not a silent fallback', async () => {
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toThrow(/tfjs-node/);
    process.env.BUSI_BACKEND = 'webgl';
    await expect(initBackend({ log: false })).rejects.toThrow(/unknown backend 'webgl' \(expected one of auto, tensorflow, webgpu, native, wasm, cpu\)/);
  });

  test('logs the chosen backend by default', async () => {
    const spy = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    await initBackend({ backend: 'cpu' });
    expect(spy).toHaveBeenCalledWith(expect.stringContaining('busi backend: cpu'));
    spy.mockRestore();
  });
});

describe('initBackend and the native kernels', () => {
  const saved = { native: process.env.BUSI_NATIVE, path: process.env.BUSI_NATIVE_PATH, threads: process.env.BUSI_NATIVE_THREADS };
  afterEach(() => {
    for (const [key, value] of [['BUSI_NATIVE', saved.native], ['BUSI_NATIVE_PATH', saved.path], ['BUSI_NATIVE_THREADS', saved.threads]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetNativeAddonCache();
  });
  // The thread count lives in the addon for the whole process (jest runs other files in this worker after this one).
  afterAll(() => loadNativeAddon()?.setThreads(0));

  test('native: false (or BUSI_NATIVE=0) leaves the wasm kernels alone and says so', async () => {
    const d = await initBackend({ backend: 'wasm', native: false, log: false });
    expect(d.nativeThreads).toBeNull();
    expect(d.summary).toContain('native kernels off');
    expect(nativeKernelsInfo().registered).toBe(false);
    process.env.BUSI_NATIVE = '0';
    expect((await initBackend({ backend: 'wasm', log: false })).nativeThreads).toBeNull();
  });

  test('native: true with no addon is an error naming the missing file; auto falls back quietly', async () => {
    process.env.BUSI_NATIVE_PATH = '/nonexistent/busi_native.node';
    resetNativeAddonCache();
    await expect(initBackend({ backend: 'wasm', native: true, log: false })).rejects.toThrow(/native kernels requested but the addon is not built \(no \/nonexistent\/busi_native\.node/);
    const d = await initBackend({ backend: 'wasm', log: false });
    expect(d.nativeThreads).toBeNull();
    expect(d.nativeStatus).toMatch(/not built/);
  });

  test('a bad BUSI_NATIVE or BUSI_NATIVE_THREADS value is an error naming the variable', async () => {
    process.env.BUSI_NATIVE = 'sometimes';
    await expect(initBackend({ backend: 'wasm', log: false })).rejects.toThrow(/BUSI_NATIVE must be 0\/off, 1\/on or auto, got 'sometimes'/);
    delete process.env.BUSI_NATIVE;
    process.env.BUSI_NATIVE_THREADS = 'two';
    await expect(initBackend({ backend: 'wasm', log: false })).rejects.toThrow(/BUSI_NATIVE_THREADS must be a positive integer, got 'two'/);
  });

  const built = loadNativeAddon() != null;
  (built ? test : test.skip)('with the addon built, auto registers the native kernels with the requested threads', async () => {
    process.env.BUSI_NATIVE_THREADS = '1';
    const d = await initBackend({ backend: 'wasm', log: false });
    expect(d.nativeThreads).toBe(1);
    expect(d.summary).toContain('native BLAS kernels on 1 thread');
    expect(tf.getKernel('BusiBatchNormTrainForward', 'wasm')).toBeDefined();
    const two = await initBackend({ backend: 'wasm', nativeThreads: 2, log: false });
    expect(two.nativeThreads).toBe(2);
    await initBackend({ backend: 'wasm', native: false, log: false });
    expect(tf.getKernel('BusiBatchNormTrainForward', 'wasm')).toBeUndefined();
  });
});
