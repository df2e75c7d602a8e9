import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../../src/backends';

describe('initBackend', () => {
  const saved = process.env.BUSI_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.BUSI_BACKEND;
    else process.env.BUSI_BACKEND = saved;
  });

  test('auto skips the absent tfjs-node packages and picks wasm with training kernels', async () => {
    delete process.env.BUSI_BACKEND;
    const d = await initBackend({ log: false });
    expect(d.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(d.trainingKernels).toBe(true);
    expect(d.skipped.map((s) => s.backend)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(describeBackend()).toBe(d);
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
    process.env.BUSI_BACKEND = 'webgpu';
    await expect(initBackend({ log: false })).rejects.toThrow(/unknown backend 'webgpu'/);
  });

  test('logs the chosen backend by default', async () => {
    const spy = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    await initBackend({ backend: 'cpu' });
    expect(spy).toHaveBeenCalledWith(expect.stringContaining('busi backend: cpu'));
    spy.mockRestore();
  });
});
