import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { pair } from '../wasm/conv-grads';
import type { WasmBackendLike } from '../wasm/kernel-scope';

/** The kernel a case the native addon does not take goes to (the one registered before). */
export type Fallback = (name: string) => tf.KernelFunc;

/**
 * The backend a set of native kernel configs is for: its registry name, and how a kernel reaches
 * the flat float32 arrays of its tensors and allocates outputs (the wasm heap, or the JS arrays of
 * the 'native' backend).
 */
export interface KernelTarget {
  /** tfjs backend name the configs register under. */
  backendName: string;
  /** The array view of the backend instance a kernel is called with. */
  view(backend: unknown): WasmBackendLike;
}

/** The wasm backend: its own API is the array view. */
export const WASM_TARGET: KernelTarget = { backendName: 'wasm', view: (backend) => backend as WasmBackendLike };

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

export function isNHWC(attrs: NamedAttrMap): boolean {
  const f = attrs.dataFormat as string | undefined;
  return f == null || f === 'NHWC' || f === 'channelsLast';
}

/** The addon's geometry vector: [n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, top, left]. */
export function geometry(xShape: number[], filterShape: number[], attrs: NamedAttrMap, dilations: unknown, depthwise = false): Int32Array {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides),
    pair(dilations),
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    depthwise,
  );
  const [n, h, w, ci] = xShape;
  const [kh, kw] = filterShape;
  const co = depthwise ? ci : filterShape[3];
  return Int32Array.from([
    n, h, w, ci, kh, kw, co, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
}

export function float32(...xs: TensorInfo[]): boolean {
  return xs.every((x) => x.dtype === 'float32');
}

/** Tensors below this many elements stay on the wasm kernels (a native call and its threads cost more). */
export const ELEMENTWISE_MIN = 16384;

/**
 * How `small` broadcasts onto `big` as [outer, mid, inner] with small = [outer, 1, inner], or null
 * when it does not (the output would be larger than big, or the broadcast axes are not one run).
 */
/** An empty tensor needs no native call (and BLAS rejects zero leading dimensions). */
export function empty(shape: number[]): boolean {
  return shape.some((d) => d === 0);
}

export function heap(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function zeroFill(backend: WasmBackendLike, out: TensorInfo): TensorInfo {
  if (!empty(out.shape)) heap(backend, out).fill(0);
  return out;
}

/** The sorted, de-duplicated, non-negative axes a reduction's `axis` attribute names (all axes when absent). */
export function reductionAxes(axis: unknown, rank: number): number[] {
  const raw = axis as number | number[] | undefined;
  return [...new Set((raw == null ? Array.from({ length: rank }, (_, i) => i) : Array.isArray(raw) ? raw : [raw]).map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/**
 * One step of an odometer over the dimensions before the last of a row-major array: advances
 * `coord` (one entry per such dimension, sizes `dims`) to the next row and returns `base` moved by
 * `strides` to match (a stride per dimension, of whatever array is being indexed).
 */
export function nextRow(coord: number[], dims: readonly number[], strides: readonly number[], base: number): number {
  for (let d = coord.length - 1; d >= 0; d--) {
    coord[d]++;
    base += strides[d];
    if (coord[d] < dims[d]) return base;
    base -= strides[d] * dims[d];
    coord[d] = 0;
  }
  return base;
}
