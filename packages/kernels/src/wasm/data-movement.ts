import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernel-scope';

type Heap = Float32Array | Int32Array | Uint8Array;

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/**
 * Copies the box `begin`..`begin+size` of `src` (shape `shape`) into `dst` (dense, in order) as
 * runs of contiguous memory: trailing axes taken whole are merged into one run.
 */
function copyBox(src: Heap, shape: number[], begin: number[], size: number[], dst: Heap): void {
  const rank = shape.length;
  if (rank === 0 || size.some((s) => s === 0)) return;
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k] && begin[k] === 0) k--;
  const st = strides(shape);
  const run = size[k] * st[k];
  const idx = new Array<number>(k).fill(0);
  let out = 0;
  for (;;) {
    let off = begin[k] * st[k];
    for (let a = 0; a < k; a++) off += (begin[a] + idx[a]) * st[a];
    dst.set(src.subarray(off, off + run), out);
    out += run;
    let a = k - 1;
    while (a >= 0 && ++idx[a] === size[a]) idx[a--] = 0;
    if (a < 0) break;
  }
}

function sliceInfo(backend: WasmBackendLike, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views only after the allocation: growing the heap detaches earlier ones.
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

/**
 * Slice reading the wasm heap in place. The stock kernel calls readSync, which copies the
 * whole input out of the heap for every slice; split/unstack of a large tensor then cost
 * (pieces × input size).
 */
const slice: KernelFunc = ({ inputs, attrs = {}, backend }) => {
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string') throw new Error('busi wasm Slice: string tensors are not supported');
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
  return sliceInfo(backend as unknown as WasmBackendLike, x, b, s);
};

const splitV: KernelFunc = ({ inputs, attrs = {}, backend }) => {
  const x = inputs.x as TensorInfo;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceInfo(backend as unknown as WasmBackendLike, x, begin.slice(), size);
    begin[axis] += s;
    return out;
  });
};

const unpack: KernelFunc = ({ inputs, attrs = {}, backend }) => {
  const x = inputs.value as TensorInfo;
  let axis = attrs.axis as number;
  if (axis < 0) axis += x.shape.length;
  const outShape = x.shape.filter((_, i) => i !== axis);
  const size = x.shape.slice();
  size[axis] = 1;
  return Array.from({ length: x.shape[axis] }, (_, i) => {
    const begin = new Array<number>(x.shape.length).fill(0);
    begin[axis] = i;
    const out = sliceInfo(backend as unknown as WasmBackendLike, x, begin, size);
    return { ...out, shape: outShape };
  });
};

/** Identity without a copy, as the cpu backend does: the output shares the input's buffer. */
const identity: KernelFunc = ({ inputs, backend }) => {
  const x = inputs.x as TensorInfo;
  (backend as unknown as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/**
 * Tile by block replication: each axis's block is built once and then duplicated with
 * copyWithin (a memmove), instead of the stock kernel's per-element index arithmetic.
 */
const tile: KernelFunc = ({ inputs, attrs = {}, backend }) => {
  const b = backend as unknown as WasmBackendLike;
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string') throw new Error('busi wasm Tile: string tensors are not supported');
  const reps = attrs.reps as number[];
  const shape = x.shape;
  const rank = shape.length;
  const outShape = shape.map((d, i) => d * reps[i]);
  const out = b.makeOutput(outShape, x.dtype);
  if (outShape.some((d) => d === 0)) return out;
  if (rank === 0) {
    b.typedArrayFromHeap(out).set(b.typedArrayFromHeap(x));
    return out;
  }
  const src = b.typedArrayFromHeap(x);
  const dst = b.typedArrayFromHeap(out);
  const srcStride = strides(shape);
  const dstStride = strides(outShape);
  const build = (axis: number, srcOff: number, dstOff: number): void => {
    const n = shape[axis];
    if (axis === rank - 1) {
      if (n === 1) dst.fill(src[srcOff], dstOff, dstOff + reps[axis]);
      else {
        const row = src.subarray(srcOff, srcOff + n);
        for (let r = 0; r < reps[axis]; r++) dst.set(row, dstOff + r * n);
      }
      return;
    }
    const inner = dstStride[axis];
    for (let i = 0; i < n; i++) build(axis + 1, srcOff + i * srcStride[axis], dstOff + i * inner);
    const block = n * inner;
    for (let r = 1; r < reps[axis]; r++) dst.copyWithin(dstOff + r * block, dstOff, dstOff + block);
  };
  build(0, 0, 0);
  return out;
};

/** Cast to the same dtype is an identity (tf.moments casts every BN input); share the buffer. */
function castWith(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    if (args.attrs?.dtype !== x.dtype || x.dtype === 'string') return original(args);
    return identity(args);
  };
}

function stridedSliceWith(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const a = args.attrs as Record<string, number & number[]>;
    const info = tf.slice_util.sliceInfo(
      x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask,
    );
    if (info.isIdentity || !(info.sliceDim0 || info.isSimpleSlice) || x.dtype === 'string') return original(args);
    const b = args.backend as unknown as WasmBackendLike;
    const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
    const out = sliceInfo(b, x, info.begin, size);
    return { ...out, shape: info.finalShape };
  };
}

/** 4-D NHWC SpaceToBatchND / BatchToSpaceND as channel-row copies (padding never materialised). */
function spaceBatch(toBatch: boolean, original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const block = args.attrs!.blockShape as number[];
    const pads = (toBatch ? args.attrs!.paddings : args.attrs!.crops) as number[][];
    if (x.shape.length !== 4 || block.length !== 2 || x.dtype === 'string') return original(args);
    const b = args.backend as unknown as WasmBackendLike;
    const [bh, bw] = block;
    const [[pt, pb], [pl, pr]] = pads;
    const [n0, h0, w0, c] = x.shape;
    // "space" is the NHWC image side, "batch" the [bh·bw·n, h, w, c] side.
    const n = toBatch ? n0 : n0 / (bh * bw);
    const hb = toBatch ? (h0 + pt + pb) / bh : h0;
    const wb = toBatch ? (w0 + pl + pr) / bw : w0;
    const hs = toBatch ? h0 : h0 * bh - pt - pb;
    const ws = toBatch ? w0 : w0 * bw - pl - pr;
    const outShape = toBatch ? [n * bh * bw, hb, wb, c] : [n, hs, ws, c];
    const out = b.makeOutput(outShape, x.dtype);
    const src = b.typedArrayFromHeap(x);
    const dst = b.typedArrayFromHeap(out);
    if (toBatch) dst.fill(0);
    for (let i = 0; i < bh; i++) {
      for (let j = 0; j < bw; j++) {
        for (let bi = 0; bi < n; bi++) {
          const batch = (i * bw + j) * n + bi;
          for (let y = 0; y < hb; y++) {
            const sy = y * bh + i - pt;
            if (sy < 0 || sy >= hs) continue;
            for (let xx = 0; xx < wb; xx++) {
              const sx = xx * bw + j - pl;
              if (sx < 0 || sx >= ws) continue;
              const spaceOff = ((bi * hs + sy) * ws + sx) * c;
              const batchOff = ((batch * hb + y) * wb + xx) * c;
              if (toBatch) dst.set(src.subarray(spaceOff, spaceOff + c), batchOff);
              else dst.set(src.subarray(batchOff, batchOff + c), spaceOff);
            }
          }
        }
      }
    }
    return out;
  };
}

/**
 * BatchMatMul with transpose flags runs ~10x slower on wasm than without (its kernel walks the
 * transposed operand with a large stride); an explicit Transpose first costs one memory pass.
 */
function batchMatMulWith(original: KernelFunc): KernelFunc {
  return (args) => {
    const a = args.inputs.a as TensorInfo;
    const b = args.inputs.b as TensorInfo;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const transposeKernel = tf.getKernel(tf.Transpose, 'wasm')!.kernelFunc;
    const swapLast = (t: TensorInfo): TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return transposeKernel({ inputs: { x: t }, backend: args.backend, attrs: { perm } }) as TensorInfo;
    };
    const at = transposeA ? swapLast(a) : a;
    const bt = transposeB ? swapLast(b) : b;
    try {
      return original({ ...args, inputs: { a: at, b: bt }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      if (at !== a) backend.disposeData(at.dataId);
      if (bt !== b) backend.disposeData(bt.dataId);
    }
  };
}

/**
 * The copies that need only a backend's flat arrays (makeOutput and typedArrayFromHeap), by kernel
 * name: the busi native backend uses them too.
 */
export const inPlaceCopyKernels: Readonly<Record<string, KernelFunc>> = { [tf.Slice]: slice, [tf.SplitV]: splitV, [tf.Unpack]: unpack };

/** Replacements for data-movement kernels; some wrap the stock kernel for the cases they skip. */
export function dataMovementKernels(stock: (name: string) => KernelFunc | undefined): KernelConfig[] {
  const must = (name: string): KernelFunc => {
    const k = stock(name);
    if (k == null) throw new Error(`busi wasm kernels: stock wasm kernel ${name} missing`);
    return k;
  };
  return [
    { kernelName: tf.Slice, backendName: 'wasm', kernelFunc: slice },
    { kernelName: tf.SplitV, backendName: 'wasm', kernelFunc: splitV },
    { kernelName: tf.Unpack, backendName: 'wasm', kernelFunc: unpack },
    { kernelName: tf.Identity, backendName: 'wasm', kernelFunc: identity },
    { kernelName: tf.Tile, backendName: 'wasm', kernelFunc: tile },
    { kernelName: tf.Cast, backendName: 'wasm', kernelFunc: castWith(must(tf.Cast)) },
    { kernelName: tf.StridedSlice, backendName: 'wasm', kernelFunc: stridedSliceWith(must(tf.StridedSlice)) },
    { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMulWith(must(tf.BatchMatMul)) },
    { kernelName: tf.SpaceToBatchND, backendName: 'wasm', kernelFunc: spaceBatch(true, must(tf.SpaceToBatchND)) },
    { kernelName: tf.BatchToSpaceND, backendName: 'wasm', kernelFunc: spaceBatch(false, must(tf.BatchToSpaceND)) },
  ];
}
