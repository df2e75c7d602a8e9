import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from '../wasm/kernel-scope';
import { inPlaceCopyKernels } from '../wasm/data-movement';
import { broadcastLayout } from './math-kernels';
import type { Fallback, KernelTarget } from './kernel-utils';

type Binary = (a: number, b: number) => number;
type Unary = (x: number, alpha: number) => number;

const size = (t: TensorInfo) => t.shape.reduce((p, q) => p * q, 1);

/**
 * A float32 binary op as tight loops over the [outer, mid, inner] view of a broadcast (same
 * shapes, a scalar, per-channel or squeeze-excite operands). tfjs-backend-cpu computes every
 * broadcast element through an index-to-coordinates conversion, and its loops call the op
 * through one shared (megamorphic) call site: an Adam step over a ResNet's parameters, whose
 * scalar operands all broadcast, spent most of its time there. Each kernel here is its own
 * closure, so V8 inlines its op. Results equal the cpu kernel's (the same double arithmetic,
 * rounded to float32 once).
 */
function binaryKernel(name: string, op: Binary, fallback: Fallback, target: KernelTarget): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(name)(args);
    const aBig = size(a) >= size(b);
    const [big, small] = aBig ? [a, b] : [b, a];
    const layout = broadcastLayout(big.shape, small.shape);
    if (layout == null || size(big) === 0) return fallback(name)(args);
    const arrays: WasmBackendLike = target.view(args.backend);
    const out = arrays.makeOutput([...big.shape], 'float32');
    const x = arrays.typedArrayFromHeap(big) as Float32Array;
    const s = arrays.typedArrayFromHeap(small) as Float32Array;
    const y = arrays.typedArrayFromHeap(out) as Float32Array;
    const [outer, mid, inner] = layout;
    if (s.length === 1) {
      const c = s[0];
      if (aBig) for (let i = 0; i < x.length; i++) y[i] = op(x[i], c);
      else for (let i = 0; i < x.length; i++) y[i] = op(c, x[i]);
      return out;
    }
    let k = 0;
    for (let o = 0; o < outer; o++) {
      const base = o * inner;
      for (let m = 0; m < mid; m++) {
        if (aBig) for (let i = 0; i < inner; i++, k++) y[k] = op(x[k], s[base + i]);
        else for (let i = 0; i < inner; i++, k++) y[k] = op(s[base + i], x[k]);
      }
    }
    return out;
  };
}

/** A float32 unary op as one loop (its own closure, so the op is inlined; see {@link binaryKernel}). */
function unaryKernel(name: string, op: Unary, fallback: Fallback, target: KernelTarget): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return fallback(name)(args);
    const alpha = Number(args.attrs?.alpha ?? 0);
    const arrays = target.view(args.backend);
    const out = arrays.makeOutput([...x.shape], 'float32');
    const v = arrays.typedArrayFromHeap(x) as Float32Array;
    const y = arrays.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < v.length; i++) y[i] = op(v[i], alpha);
    return out;
  };
}

const BINARY: Array<[string, Binary]> = [
  [tf.Add, (a, b) => a + b],
  [tf.Sub, (a, b) => a - b],
  [tf.Multiply, (a, b) => a * b],
  [tf.RealDiv, (a, b) => a / b],
  [tf.Maximum, (a, b) => Math.max(a, b)],
  [tf.Minimum, (a, b) => Math.min(a, b)],
  [tf.SquaredDifference, (a, b) => (a - b) * (a - b)],
];

const UNARY: Array<[string, Unary]> = [
  [tf.Sqrt, (x) => Math.sqrt(x)],
  [tf.Rsqrt, (x) => 1 / Math.sqrt(x)],
  [tf.Square, (x) => x * x],
  [tf.Neg, (x) => -x],
  [tf.Exp, (x) => Math.exp(x)],
  [tf.Log, (x) => Math.log(x)],
  [tf.Abs, (x) => Math.abs(x)],
  [tf.Reciprocal, (x) => 1 / x],
  // tfjs's Step: 1 above zero, alpha otherwise, NaN kept (the relu gradient).
  [tf.Step, (x, alpha) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : alpha)],
];

/**
 * The native backend's JavaScript kernels over its flat arrays: the elementwise ops above and the
 * in-place Slice / SplitV / Unpack copies of the wasm kernels (the cpu backend's strided slices go
 * element by element through coordinates). The native (C) kernels, registered after these, take
 * the large Add / Multiply cases and hand the rest back here through `fallback`.
 */
export function arrayKernelConfigs(fallback: Fallback, target: KernelTarget): KernelConfig[] {
  const viaView = (k: KernelFunc): KernelFunc => (args) => k({ ...args, backend: target.view(args.backend) as unknown as tf.KernelBackend });
  return [
    ...BINARY.map(([name, op]) => ({ kernelName: name, backendName: target.backendName, kernelFunc: binaryKernel(name, op, fallback, target) })),
    ...UNARY.map(([name, op]) => ({ kernelName: name, backendName: target.backendName, kernelFunc: unaryKernel(name, op, fallback, target) })),
    ...Object.entries(inPlaceCopyKernels).map(([name, k]) => ({ kernelName: name, backendName: target.backendName, kernelFunc: viaView(k) })),
  ];
}
