import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon';
import { broadcastLayout } from './math-kernels';
import { ELEMENTWISE_MIN, heap, type Fallback, type KernelTarget } from './kernel-utils';

// The addon's binaryOp / unaryOp kinds (kernels.h lists the same numbers).
const BINARY_KINDS: Array<[string, number]> = [[tf.Sub, 0], [tf.RealDiv, 1], [tf.SquaredDifference, 2]];
const UNARY_KINDS: Array<[string, number]> = [[tf.Sqrt, 0], [tf.Rsqrt, 1], [tf.Square, 2], [tf.Neg, 3], [tf.Abs, 4], [tf.Reciprocal, 5], [tf.Step, 6]];

const BROADCAST_KINDS: Array<[string, number]> = [[tf.Add, 0], [tf.Multiply, 1], [tf.Sub, 2], [tf.RealDiv, 3], [tf.SquaredDifference, 4]];

const sizeOf = (t: TensorInfo) => t.shape.reduce((p, q) => p * q, 1);

/**
 * The output shape of `a` op `b` under numpy broadcasting and each operand's stride per output
 * dimension (0 where it broadcasts), with size-1 dimensions dropped and adjacent dimensions merged
 * where both operands run through them contiguously; null when the shapes do not broadcast.
 */
export function broadcastStrides(a: readonly number[], b: readonly number[]): { shape: number[]; aStrides: number[]; bStrides: number[] } | null {
  const rank = Math.max(a.length, b.length);
  const pa = [...Array(rank - a.length).fill(1), ...a];
  const pb = [...Array(rank - b.length).fill(1), ...b];
  const contiguous = (s: number[]) => {
    const out = new Array<number>(rank).fill(0);
    for (let i = rank - 1, step = 1; i >= 0; step *= s[i], i--) out[i] = s[i] === 1 ? 0 : step;
    return out;
  };
  const sa = contiguous(pa);
  const sb = contiguous(pb);
  const shape: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  for (let i = 0; i < rank; i++) {
    if (pa[i] !== pb[i] && pa[i] !== 1 && pb[i] !== 1) return null;
    const n = Math.max(pa[i], pb[i]);
    if (n === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && aStrides[last] === sa[i] * n && bStrides[last] === sb[i] * n) {
      shape[last] *= n;
      aStrides[last] = sa[i];
      bStrides[last] = sb[i];
    } else {
      shape.push(n);
      aStrides.push(sa[i]);
      bStrides.push(sb[i]);
    }
  }
  if (shape.length === 0) return { shape: [1], aStrides: [0], bStrides: [0] };
  return { shape, aStrides, bStrides };
}

/**
 * Add, Multiply, Sub, RealDiv and SquaredDifference under broadcasts the other kernels do not take
 * (an output larger than either input: nearest-neighbour upsampling multiplies by a ones tensor),
 * on every core; every other case goes to `previous(name)`, the kernel registered before.
 */
export function broadcastKernelConfigs(addon: NativeAddon, previous: Fallback, target: KernelTarget): KernelConfig[] {
  return BROADCAST_KINDS.map(([name, kind]) => {
    const next = previous(name);
    const kernelFunc: tf.KernelFunc = (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return next(args);
      const [big, small] = sizeOf(a) >= sizeOf(b) ? [a, b] : [b, a];
      if (broadcastLayout(big.shape, small.shape) != null) return next(args);
      const dims = broadcastStrides(a.shape, b.shape);
      if (dims == null || dims.shape.length > 16) return next(args);
      const total = dims.shape.reduce((p, q) => p * q, 1);
      if (total < ELEMENTWISE_MIN) return next(args);
      const backend = target.view(args.backend);
      const out = backend.makeOutput(tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape), 'float32');
      addon.broadcastOp(kind, dims.shape.length, heap(backend, a), heap(backend, b), heap(backend, out), Int32Array.from([...dims.shape, ...dims.aStrides, ...dims.bStrides]));
      return out;
    };
    return { kernelName: name, backendName: target.backendName, kernelFunc };
  });
}

/**
 * The 'native' backend's large Sub, RealDiv, SquaredDifference and unary ops (Sqrt, Rsqrt, Square,
 * Neg, Abs, Reciprocal, Step) on every core: an Adam step and BatchNorm's arithmetic run these
 * over every weight and activation, and the JavaScript loops below them cost 20–30 ns a value
 * (their op is called through one shared, megamorphic site). Smaller tensors, other dtypes and
 * broadcasts the addon does not take go to `fallback`. Only for the native backend: on wasm the
 * stock kernels already run in the heap at memory speed.
 */
export function elementwiseKernelConfigs(addon: NativeAddon, fallback: Fallback, target: KernelTarget): KernelConfig[] {
  const binary = (name: string, kind: number): tf.KernelFunc => (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(name)(args);
    const reversed = sizeOf(a) < sizeOf(b);
    const [big, small] = reversed ? [b, a] : [a, b];
    const layout = broadcastLayout(big.shape, small.shape);
    const scalar = sizeOf(small) === 1;
    if (layout == null || sizeOf(big) < ELEMENTWISE_MIN || (!scalar && layout[1] > 1 && layout[2] < 8)) return fallback(name)(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...big.shape], 'float32');
    addon.binaryOp(kind, reversed ? 1 : 0, heap(backend, big), heap(backend, small), heap(backend, out), Int32Array.from(scalar ? [1, 1, sizeOf(big)] : layout));
    return out;
  };
  const unary = (name: string, kind: number): tf.KernelFunc => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32' || sizeOf(x) < ELEMENTWISE_MIN) return fallback(name)(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...x.shape], 'float32');
    addon.unaryOp(kind, Number(args.attrs?.alpha ?? 0), heap(backend, x), heap(backend, out));
    return out;
  };
  return [
    ...BINARY_KINDS.map(([name, kind]) => ({ kernelName: name, backendName: target.backendName, kernelFunc: binary(name, kind) })),
    ...UNARY_KINDS.map(([name, kind]) => ({ kernelName: name, backendName: target.backendName, kernelFunc: unary(name, kind) })),
  ];
}
