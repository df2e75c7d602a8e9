import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// The layers bundle registers every op gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs-layers';
import { registerWasmTrainingKernels } from '../src/training-kernels';

/** Deterministic pseudo-random values in [-1, 1) (mulberry32), so failures reproduce. */
export function randomValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  }
  return out;
}

export interface Spec {
  shape: number[];
  values?: Float32Array;
  dtype?: 'float32' | 'int32';
}

let seedCounter = 1;
export function spec(shape: number[]): Spec {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: randomValues(n, seedCounter++) };
}

export async function setupBackends(): Promise<void> {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
}

/** Runs one kernel with the same inputs on `backend`, returning its output values and shape. */
export async function runOn(
  backend: string,
  kernel: string,
  inputs: Record<string, Spec>,
  attrs: Record<string, unknown>,
): Promise<{ shape: number[]; values: Float32Array }> {
  const prev = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const ts: Record<string, tf.Tensor> = {};
    for (const [k, s] of Object.entries(inputs)) ts[k] = tf.tensor(s.values!, s.shape, s.dtype ?? 'float32');
    const out = tf.engine().runKernel(kernel, ts as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    const values = Float32Array.from(await out.data());
    const shape = out.shape.slice();
    out.dispose();
    Object.values(ts).forEach((t) => t.dispose());
    return { shape, values };
  } finally {
    await tf.setBackend(prev);
  }
}

export function maxRelError(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / scale;
}

let underTest = 'wasm';

/** The backend {@link expectMatchesCpu} checks against cpu (default wasm). */
export function setBackendUnderTest(backend: string): void {
  underTest = backend;
}

/** Asserts the kernel of the backend under test (wasm unless {@link setBackendUnderTest} changed it) reproduces the cpu reference kernel on identical inputs. */
export async function expectMatchesCpu(
  kernel: string,
  inputs: Record<string, Spec>,
  attrs: Record<string, unknown>,
  tol = 1e-4,
): Promise<void> {
  const ref = await runOn('cpu', kernel, inputs, attrs);
  const got = await runOn(underTest, kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  const err = maxRelError(got.values, ref.values);
  if (!(err <= tol)) throw new Error(`${kernel} ${JSON.stringify(attrs)}: relative error ${err} > ${tol}`);
}

/** Direct loops for a dilated depthwise conv's gradients (tfjs's cpu kernels ignore dilation). */
export function depthwiseGradsReference(
  x: Float32Array, xs: number[], w: Float32Array, dy: Float32Array, ds: number[], k: number, s: number, d: number, pad: number,
): { dw: Float32Array; dx: Float32Array } {
  const [n, h, wd, c] = xs;
  const [, oh, ow] = ds;
  const dw = new Float32Array(k * k * c);
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ki = 0; ki < k; ki++)
          for (let kj = 0; kj < k; kj++) {
            const r = i * s + ki * d - pad;
            const q = j * s + kj * d - pad;
            if (r < 0 || r >= h || q < 0 || q >= wd) continue;
            for (let ch = 0; ch < c; ch++) {
              const g = dy[((b * oh + i) * ow + j) * c + ch];
              const xi = ((b * h + r) * wd + q) * c + ch;
              dw[(ki * k + kj) * c + ch] += x[xi] * g;
              dx[xi] += w[(ki * k + kj) * c + ch] * g;
            }
          }
  return { dw, dx };
}

/** Padding of a conv test case (tfjs forms). */
export type ConvPad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;
/** A conv test case: input shape, kernel size, output channels, strides, padding, dilation. */
export interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: [number, number];
  pad: ConvPad;
  dil?: number | [number, number];
}

/** Explicit NHWC padding [top, bottom, left, right]. */
export const explicit = (t: number, b: number, l: number, r: number): tf.backend_util.ExplicitPadding => [[0, 0], [t, b], [l, r], [0, 0]];

/** Dense conv cases every conv kernel test runs: strides 1–4, all padding forms, odd and non-square sizes, batch > 1, 1×1 paths. */
export const DENSE_CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], k: [3, 3], co: 4, s: [1, 1], pad: 'same' },
  { x: [2, 7, 7, 3], k: [3, 3], co: 4, s: [2, 2], pad: 'same' },
  { x: [1, 8, 6, 5], k: [3, 3], co: 2, s: [2, 2], pad: 'valid' },
  { x: [3, 9, 5, 4], k: [7, 7], co: 6, s: [2, 2], pad: explicit(3, 3, 3, 3) },
  { x: [2, 10, 11, 3], k: [3, 2], co: 5, s: [1, 2], pad: explicit(1, 0, 2, 1) },
  { x: [2, 6, 6, 8], k: [1, 1], co: 4, s: [1, 1], pad: 'valid' },
  { x: [2, 6, 6, 3], k: [1, 1], co: 9, s: [1, 1], pad: 'valid' },
  { x: [2, 7, 5, 6], k: [1, 1], co: 3, s: [2, 2], pad: 'valid' },
  { x: [1, 6, 6, 3], k: [1, 1], co: 2, s: [1, 1], pad: explicit(1, 1, 1, 1) },
  { x: [2, 5, 5, 2], k: [3, 3], co: 3, s: [3, 3], pad: explicit(2, 0, 0, 2) },
  { x: [2, 8, 6, 3], k: [3, 3], co: 4, s: [2, 2], pad: 'same' },
  { x: [1, 8, 9, 2], k: [2, 2], co: 3, s: [2, 2], pad: 'valid' },
  { x: [2, 11, 9, 2], k: [3, 3], co: 2, s: [4, 4], pad: explicit(1, 1, 1, 1) },
  { x: [1, 12, 12, 3], k: [5, 5], co: 2, s: [2, 3], pad: explicit(2, 1, 0, 3) },
];

