import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { composite, type KernelScope, type WasmBackendLike } from './kernel-scope';

/**
 * Output maps with at most this many pixels (N·oh·ow) use matmul forms that take the weights as
 * they are. XNNPACK repacks a conv's weights whenever it sees a new filter tensor, which in
 * training is every step, and that costs as much as ~1000 output pixels of compute: on small
 * maps (deep layers, decoder heads) the packing dominates.
 */
let smallMapPixels = 4096;

/** Sets the small-map threshold (0 disables the matmul forms); returns the previous value. For tests and benchmarks. */
export function setSmallMapPixels(pixels: number): number {
  const prev = smallMapPixels;
  smallMapPixels = pixels;
  return prev;
}

let stockConv2D: tf.KernelFunc | null = null;

/** The stock XNNPACK Conv2D: the gradient compositions want it, never the small-map forward. */
function xnnConv2D(): tf.KernelFunc {
  return stockConv2D ?? tf.getKernel(tf.Conv2D, 'wasm')!.kernelFunc;
}

/** Filters XNNPACK has already packed (their operator is cached, so the conv kernel is cheapest). */
const packedFilters = new WeakSet<object>();

function convIm2col(scope: KernelScope, x: TensorInfo, filter: TensorInfo, g: Geometry): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const n = x.shape[0];
  const xp = fitInput(scope, x, g, kh, kw);
  const pixels = n * g.outH * g.outW;
  const cols: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      cols.push(scope.run('StridedSlice', { x: xp }, {
        begin: [0, i, j, 0], end: [n, i + (g.outH - 1) * g.sh + 1, j + (g.outW - 1) * g.sw + 1, ci], strides: [1, g.sh, g.sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      }));
    }
  }
  const patches = cols.length === 1 ? cols[0] : scope.run('Concat', cols as unknown as tf.NamedTensorInfoMap, { axis: 3 });
  const y = scope.run('BatchMatMul', {
    a: scope.reshape(patches, [1, pixels, kh * kw * ci]), b: scope.reshape(filter, [1, kh * kw * ci, co]),
  }, { transposeA: false, transposeB: false });
  return scope.reshape(y, [n, g.outH, g.outW, co]);
}

/**
 * Conv2D forward. Filters seen before go to XNNPACK (its packed operator is cached); a filter
 * seen for the first time on a small map (every training step's fresh weights) runs as
 * im2col + matmul, which reads the weights as they are.
 */
function conv2DWith(original: tf.KernelFunc): tf.KernelFunc {
  const small = composite((scope, inputs, attrs) =>
    convIm2col(scope, inputs.x as TensorInfo, inputs.filter as TensorInfo, geometry((inputs.x as TensorInfo).shape, (inputs.filter as TensorInfo).shape, attrs, false)));
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const filter = args.inputs.filter as TensorInfo;
    const attrs = args.attrs ?? {};
    const seen = packedFilters.has(filter.dataId);
    packedFilters.add(filter.dataId);
    const f = attrs.dataFormat as string | undefined;
    if (seen || (f != null && f !== 'NHWC') || pair(attrs.dilations).some((d) => d !== 1)) return original(args);
    const g = geometry(x.shape, filter.shape, attrs, false);
    if (x.shape[0] * g.outH * g.outW > smallMapPixels) return original(args);
    return small(args);
  };
}

/** Adds each matmul row (one output pixel's kh·kw·ci contributions) back onto the input pixels it came from. */
function col2im(backend: WasmBackendLike, cols: TensorInfo, inputShape: number[], g: Geometry, kh: number, kw: number): TensorInfo {
  const [n, h, w, ci] = inputShape;
  const out = backend.makeOutput(inputShape, 'float32');
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const src = backend.typedArrayFromHeap(cols) as Float32Array;
  const rowLen = kh * kw * ci;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < g.outH; y++) {
      for (let xx = 0; xx < g.outW; xx++) {
        const rowOff = ((b * g.outH + y) * g.outW + xx) * rowLen;
        for (let i = 0; i < kh; i++) {
          const r = y * g.sh + i - g.top;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const c = xx * g.sw + j - g.left;
            if (c < 0 || c >= w) continue;
            const dOff = ((b * h + r) * w + c) * ci;
            const sOff = rowOff + (i * kw + j) * ci;
            for (let k = 0; k < ci; k++) dx[dOff + k] += src[sOff + k];
          }
        }
      }
    }
  }
  return out;
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** A stride/dilation attribute (a number or a pair) as [h, w]. */
export function pair(v: unknown): [number, number] {
  if (v == null) return [1, 1];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0], a[1]];
}

function assertNHWC(kernel: string, attrs: NamedAttrMap): void {
  const f = attrs.dataFormat as string | undefined;
  if (f != null && f !== 'NHWC' && f !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports only NHWC data, got dataFormat '${f}'`);
  }
}

interface Geometry {
  top: number;
  left: number;
  outH: number;
  outW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise: boolean): Geometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides),
    pair(attrs.dilations),
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    depthwise,
  );
  return {
    top: info.padInfo.top,
    left: info.padInfo.left,
    outH: info.outHeight,
    outW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
  };
}

/**
 * Spreads dy's pixels `s` apart (zeros between and s-1 trailing zeros), turning a strided conv's
 * input gradient into a stride-1 correlation.
 */
function zeroInsert(scope: KernelScope, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const six = scope.reshape(dy, [n, h, 1, w, 1, c]);
  const padded = scope.run('PadV2', { x: six }, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
    constantValue: 0,
  });
  return scope.reshape(padded, [n, h * sh, w * sw, c]);
}

/**
 * Crops/pads x so that a `k`-tap window at dilation `d`, moved `out` times by stride `s`, covers
 * it exactly: rows beyond the last window are dropped, missing ones are zero.
 */
function fitInput(scope: KernelScope, x: TensorInfo, g: Geometry, kh: number, kw: number): TensorInfo {
  const needH = (g.outH - 1) * g.sh + (kh - 1) * g.dh + 1;
  const needW = (g.outW - 1) * g.sw + (kw - 1) * g.dw + 1;
  const [, h, w] = x.shape;
  return scope.padOrCrop(x, g.top, needH - h - g.top, g.left, needW - w - g.left);
}

/** dy spread out and padded so that a stride-1 correlation with the flipped kernel yields dx. */
function spreadGradient(scope: KernelScope, dy: TensorInfo, g: Geometry, inputShape: number[], kh: number, kw: number): TensorInfo {
  const [, h, w] = inputShape;
  const up = zeroInsert(scope, dy, g.sh, g.sw);
  const khe = (kh - 1) * g.dh + 1;
  const kwe = (kw - 1) * g.dw + 1;
  const top = khe - 1 - g.top;
  const left = kwe - 1 - g.left;
  return scope.padOrCrop(up, top, h - g.outH * g.sh + g.top, left, w - g.outW * g.sw + g.left);
}

function isPointwise(g: Geometry, kh: number, kw: number, inputShape: number[]): boolean {
  return kh === 1 && kw === 1 && g.top === 0 && g.left === 0 &&
    (g.outH - 1) * g.sh + 1 <= inputShape[1] && (g.outW - 1) * g.sw + 1 <= inputShape[2];
}

/**
 * dW of a dense conv. 1x1: one plain matmul (transposing whichever operand is smaller).
 * Otherwise a forward conv where the batch axis is contracted: x as [Ci, H, W, B] convolved with
 * dy as a [oh, ow, B, Co] kernel dilated by the stride gives [Ci, kh, kw, Co]; this runs on
 * XNNPACK's fast conv instead of a missing (or slow) backprop kernel.
 */
const conv2DBackpropFilter = composite((scope, inputs, attrs) => {
  assertNHWC('Conv2DBackpropFilter', attrs);
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const filterShape = attrs.filterShape as number[];
  const [kh, kw, ci, co] = filterShape;
  const g = geometry(x.shape, filterShape, { ...attrs, dilations: 1 }, false);
  const [n] = x.shape;

  if (isPointwise(g, kh, kw, x.shape)) {
    let xs = x;
    if (g.sh > 1 || g.sw > 1 || x.shape[1] !== g.outH || x.shape[2] !== g.outW) {
      xs = scope.run('StridedSlice', { x }, {
        begin: [0, 0, 0, 0], end: [n, (g.outH - 1) * g.sh + 1, (g.outW - 1) * g.sw + 1, ci], strides: [1, g.sh, g.sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
    }
    const rows = n * g.outH * g.outW;
    const x2 = scope.reshape(xs, [1, rows, ci]);
    const dy2 = scope.reshape(dy, [1, rows, co]);
    if (ci <= co) {
      const xt = scope.transpose(x2, [0, 2, 1]);
      const dw = scope.run('BatchMatMul', { a: xt, b: dy2 }, { transposeA: false, transposeB: false });
      return scope.reshape(dw, filterShape);
    }
    const dyt = scope.transpose(dy2, [0, 2, 1]);
    const dwt = scope.run('BatchMatMul', { a: dyt, b: x2 }, { transposeA: false, transposeB: false });
    return scope.reshape(scope.transpose(dwt, [0, 2, 1]), filterShape);
  }

  const xp = fitInput(scope, x, g, kh, kw);
  const xt = scope.transpose(xp, [3, 1, 2, 0]);
  const k = scope.transpose(dy, [1, 2, 0, 3]);
  const r = scope.call(xnnConv2D(), { x: xt, filter: k }, {
    strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [g.sh, g.sw],
  });
  return scope.transpose(r, [1, 2, 0, 3]);
});

/**
 * dX of a dense conv as a forward conv of the spread, padded dy with the spatially flipped,
 * in/out-swapped kernel (XNNPACK runs it ~10x faster than the wasm backprop kernel). A 1x1 conv
 * is a matmul at dy's resolution followed by the spreading.
 */
const conv2DBackpropInput = composite((scope, inputs, attrs) => {
  assertNHWC('Conv2DBackpropInput', attrs);
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const inputShape = attrs.inputShape as number[];
  const [kh, kw, ci, co] = filter.shape;
  const g = geometry(inputShape, filter.shape, { ...attrs, dilations: 1 }, false);
  const [n, h, w] = inputShape;

  if (!isPointwise(g, kh, kw, inputShape) && n * g.outH * g.outW <= smallMapPixels) {
    // Small map: dy·Wᵀ gives every output pixel's contributions; no flipped copy for XNNPACK to repack.
    const wt = scope.transpose(scope.reshape(filter, [1, kh * kw * ci, co]), [0, 2, 1]);
    const cols = scope.run('BatchMatMul', { a: scope.reshape(dy, [1, n * g.outH * g.outW, co]), b: wt }, { transposeA: false, transposeB: false });
    return col2im(scope.backend, cols, inputShape, g, kh, kw);
  }

  if (isPointwise(g, kh, kw, inputShape)) {
    const wt = scope.transpose(scope.reshape(filter, [1, ci, co]), [0, 2, 1]);
    const r = scope.run('BatchMatMul', { a: scope.reshape(dy, [1, n * g.outH * g.outW, co]), b: wt }, { transposeA: false, transposeB: false });
    const r4 = scope.reshape(r, [n, g.outH, g.outW, ci]);
    const up = zeroInsert(scope, r4, g.sh, g.sw);
    return scope.padOrCrop(up, 0, h - g.outH * g.sh, 0, w - g.outW * g.sw);
  }

  const flipped = scope.run('Reverse', { x: filter }, { dims: [0, 1] });
  const kt = scope.transpose(flipped, [0, 1, 3, 2]);
  const src = spreadGradient(scope, dy, g, inputShape, kh, kw);
  return scope.call(xnnConv2D(), { x: src, filter: kt }, {
    strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1],
  });
});

/**
 * dW of a depthwise conv: channels and batch are merged into C·B depthwise channels, and dy
 * (per channel) becomes a huge kernel dilated by the stride; summing over B afterwards.
 * The conv's own dilation becomes the stride of this correlation.
 */
const depthwiseBackpropFilter = composite((scope, inputs, attrs) => {
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const filterShape = attrs.filterShape as number[];
  const [kh, kw, c, m] = filterShape;
  const g = geometry(x.shape, filterShape, attrs, true);
  const n = x.shape[0];
  const xp = fitInput(scope, x, g, kh, kw);
  const [, hp, wp] = xp.shape;
  const xt = scope.reshape(scope.transpose(xp, [1, 2, 3, 0]), [1, hp, wp, c * n]);
  const dy5 = scope.reshape(dy, [n, g.outH, g.outW, c, m]);
  const k = scope.reshape(scope.transpose(dy5, [1, 2, 3, 0, 4]), [g.outH, g.outW, c * n, m]);
  const r = scope.run('DepthwiseConv2dNative', { x: xt, filter: k }, {
    strides: [g.dh, g.dw], pad: 'valid', dilations: [g.sh, g.sw], dataFormat: 'NHWC',
  });
  const r5 = scope.reshape(r, [kh, kw, c, n, m]);
  if (n === 1) return scope.reshape(r5, filterShape);
  return scope.run('Sum', { x: r5 }, { axis: [3], keepDims: false });
});

/** dX of a depthwise conv: a depthwise correlation of the spread dy with the flipped kernel. */
const depthwiseBackpropInput = composite((scope, inputs, attrs) => {
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const inputShape = attrs.inputShape as number[];
  const [kh, kw, c, m] = filter.shape;
  const g = geometry(inputShape, filter.shape, attrs, true);
  const flipped = scope.reshape(scope.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, c * m, 1]);
  const src = spreadGradient(scope, dy, g, inputShape, kh, kw);
  const r = scope.run('DepthwiseConv2dNative', { x: src, filter: flipped }, {
    strides: [1, 1], pad: 'valid', dilations: [g.dh, g.dw], dataFormat: 'NHWC',
  });
  if (m === 1) return r;
  const [n, h, w] = inputShape;
  return scope.run('Sum', { x: scope.reshape(r, [n, h, w, c, m]) }, { axis: [4], keepDims: false });
});

/** The Conv2D forward replacement, wrapping the stock XNNPACK kernel. */
export function convForwardKernel(stock: tf.KernelFunc): KernelConfig {
  stockConv2D = stock;
  return { kernelName: tf.Conv2D, backendName: 'wasm', kernelFunc: conv2DWith(stock) };
}

export const convGradKernels: KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: 'wasm', kernelFunc: depthwiseBackpropFilter },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: 'wasm', kernelFunc: depthwiseBackpropInput },
];
