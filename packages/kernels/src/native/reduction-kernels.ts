import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { ELEMENTWISE_MIN, heap, nextRow, reductionAxes, type Fallback, type KernelTarget } from './kernel-utils';

/**
 * `x` of `shape` summed over `axes` into `out` (the kept dimensions in order), in double. Adjacent
 * dimensions that are both kept or both summed are merged, and the last dimension is the inner
 * loop, so a sum over strided axes costs one pass over x.
 */
export function sumOverAxes(x: Float32Array, shape: readonly number[], axes: readonly number[], out: Float32Array): void {
  const dims: number[] = [];
  const summed: boolean[] = [];
  shape.forEach((n, i) => {
    const s = axes.includes(i);
    if (n === 1) return;
    if (dims.length > 0 && summed[summed.length - 1] === s) dims[dims.length - 1] *= n;
    else {
      dims.push(n);
      summed.push(s);
    }
  });
  const acc = new Float64Array(out.length);
  if (dims.length === 0) {
    acc[0] = x[0] ?? 0;
  } else {
    // Output stride per dimension (0 for summed ones).
    const ostride = new Array<number>(dims.length).fill(0);
    for (let d = dims.length - 1, step = 1; d >= 0; d--) {
      if (!summed[d]) {
        ostride[d] = step;
        step *= dims[d];
      }
    }
    const last = dims.length - 1;
    const inner = dims[last];
    const innerSummed = summed[last];
    const coord = new Array<number>(last).fill(0);
    let obase = 0;
    for (let xi = 0; xi < x.length; xi += inner) {
      if (innerSummed) {
        let s = 0;
        for (let q = 0; q < inner; q++) s += x[xi + q];
        acc[obase] += s;
      } else {
        for (let q = 0; q < inner; q++) acc[obase + q] += x[xi + q];
      }
      obase = nextRow(coord, dims, ostride, obase);
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i];
}

/**
 * The 'native' backend's Sum over any set of axes of a large float32 tensor (the gradient of a
 * nearest-neighbour upsampling sums over two strided axes): tfjs-backend-cpu transposes the input
 * first, element by element. Cases the kernel registered before takes well (contiguous axes before
 * the last, on the addon) and small tensors go to `previous(Sum)`.
 */
export function reductionKernelConfigs(previous: Fallback, target: KernelTarget): KernelConfig[] {
  const next = previous(tf.Sum);
  const sum: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs ?? {};
    const rank = x.shape.length;
    const axes = reductionAxes(attrs.axis, rank);
    const size = x.shape.reduce((p, q) => p * q, 1);
    const contiguousBeforeLast = axes.length > 0 && axes.every((a, i) => a === axes[0] + i) && axes[axes.length - 1] < rank - 1;
    if (x.dtype !== 'float32' || size < ELEMENTWISE_MIN || contiguousBeforeLast || axes.some((a) => a < 0 || a >= rank)) return next(args);
    const shape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const backend = target.view(args.backend);
    const out = backend.makeOutput(shape, 'float32');
    sumOverAxes(heap(backend, x), x.shape, axes, heap(backend, out));
    return out;
  };
  return [{ kernelName: tf.Sum, backendName: target.backendName, kernelFunc: sum }];
}
