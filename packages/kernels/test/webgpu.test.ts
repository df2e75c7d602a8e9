import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The layers bundle registers every op gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs-layers';
import { torchConv2d, type TorchConvOptions } from '@busi/core';
import { initBackend, testWebGpuIcd, type BackendDescription } from '../src';
import { resolveWebGpuIcd } from '../src/webgpu/adapter';
import { isSoftwareAdapter } from '../src/webgpu/software-adapter';
import { randomValues } from './helpers';

describe('WebGPU adapter settings', () => {
  test('BUSI_WEBGPU_ICD: a missing file is an error naming it; unset means the system drivers', () => {
    expect(() => resolveWebGpuIcd('/nonexistent/icd.json')).toThrow(/Vulkan ICD file '\/nonexistent\/icd.json' does not exist/);
    expect(resolveWebGpuIcd('')).toBeNull();
    expect(resolveWebGpuIcd(undefined)).toBeNull();
  });

  test('software rasterisers are told apart from GPUs by what the adapter reports', () => {
    expect(isSoftwareAdapter({ info: { vendor: 'google', architecture: 'swiftshader' } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } })).toBe(true);
    expect(isSoftwareAdapter({ info: { vendor: 'nvidia', architecture: 'ampere' }, isFallbackAdapter: false })).toBe(false);
    expect(isSoftwareAdapter({ info: { vendor: 'x', architecture: '', isFallbackAdapter: true } })).toBe(true);
  });
});

// One adapter per process (the Vulkan loader reads its ICD once): SwiftShader where installed.
const icd = testWebGpuIcd();
let webgpu: BackendDescription | null = null;
let why = '';

beforeAll(async () => {
  try {
    // auto must not settle on a software adapter; it is probed first, then forced.
    const auto = await initBackend({ log: false, webgpuIcd: icd });
    const skip = auto.skipped.find((s) => s.backend === 'webgpu');
    if (auto.backend === 'webgpu') expect(auto.adapter?.software).toBe(false);
    else if (skip && /only a software adapter/.test(skip.reason)) expect(auto.backend).toBe('wasm');
    webgpu = await initBackend({ backend: 'webgpu', log: false, webgpuIcd: icd });
  } catch (e) {
    why = (e as Error).message;
  }
});

function maybe(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    if (webgpu == null) {
      console.warn(`skipped '${name}': no WebGPU adapter could be made here (${why}); install chromium (SwiftShader) or set BUSI_WEBGPU_ICD`);
      return;
    }
    await fn();
  });
}

maybe('forcing webgpu starts tfjs-backend-webgpu and names the adapter', async () => {
  const d = webgpu!;
  expect(d.backend).toBe('webgpu');
  expect(d.provider).toBe('@tensorflow/tfjs-backend-webgpu');
  expect(d.adapter?.vendor).toBeTruthy();
  expect(d.summary).toContain(`adapter ${d.adapter!.vendor}`);
  if (d.adapter!.software) expect(d.summary).toMatch(/software rasteriser/);
  expect(tf.getKernel('BusiTorchConv2D', 'webgpu')).toBeDefined();
});

interface Case {
  x: [number, number, number, number];
  k: [number, number, number, number];
  opts: TorchConvOptions;
}
// Grouped (ResNeXt), strided grouped, dilated dense (DeepLabV3+'s ASPP and dilated stages),
// dilated depthwise (EfficientNet at output stride 16), asymmetric padding.
const CASES: Case[] = [
  { x: [2, 7, 6, 8], k: [3, 3, 2, 8], opts: { strides: [1, 1], padding: [1, 1, 1, 1], dilation: 1, groups: 4 } },
  { x: [1, 9, 8, 8], k: [3, 3, 4, 6], opts: { strides: [2, 2], padding: [1, 1, 1, 1], dilation: 1, groups: 2 } },
  { x: [2, 9, 10, 3], k: [3, 3, 3, 5], opts: { strides: [1, 1], padding: [2, 2, 2, 2], dilation: 2, groups: 1 } },
  { x: [1, 11, 9, 4], k: [3, 3, 1, 4], opts: { strides: [1, 1], padding: [3, 3, 3, 3], dilation: 3, groups: 4 } },
  { x: [1, 8, 8, 4], k: [2, 3, 2, 4], opts: { strides: [2, 1], padding: [0, 1, 1, 0], dilation: 1, groups: 2 } },
];

/** Output, input gradient and filter gradient of a torchConv2d under a fixed upstream gradient. */
async function convAndGrads(c: Case): Promise<Float32Array[]> {
  const x = tf.tensor4d(randomValues(c.x.reduce((a, b) => a * b), 11), c.x);
  const k = tf.tensor4d(randomValues(c.k.reduce((a, b) => a * b), 12), c.k);
  const y = torchConv2d(x, k, c.opts);
  const dy = tf.tensor(randomValues(y.size, 13), y.shape);
  const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.mul(torchConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.opts), dy))([x, k]);
  const out = await Promise.all([y, dx, dk].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, k, y, dy, dx, dk]);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

maybe("busi's grouped / dilated conv kernels and their gradients match the cpu backend's composed ops", async () => {
  for (const c of CASES) {
    await tf.setBackend('cpu');
    const want = await convAndGrads(c);
    await tf.setBackend('webgpu');
    const before = tf.memory().numTensors;
    const got = await convAndGrads(c);
    // Nothing left behind by the kernels (the partial filter-gradient buffers included).
    expect(tf.memory().numTensors).toBe(before);
    ['y', 'dx', 'dk'].forEach((name, i) => {
      const scale = Math.max(...want[i].map(Math.abs));
      expect({ case: JSON.stringify(c), name, err: maxAbsDiff(got[i], want[i]) / scale < 1e-5 }).toEqual({ case: JSON.stringify(c), name, err: true });
    });
  }
});
