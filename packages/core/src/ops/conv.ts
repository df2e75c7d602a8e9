import * as tf from '@tensorflow/tfjs-core';
import type { Pair, Padding4 } from '../layers/util';

/** Options of {@link torchConv2d}, PyTorch's `nn.Conv2d` semantics. */
export interface TorchConvOptions {
  /** Stride [sh, sw]. */
  strides: Pair;
  /** Zero padding [top, bottom, left, right], applied explicitly (PyTorch pads symmetrically where tfjs 'same' may not). */
  padding: Padding4;
  /** Dilation rate (same on both axes). */
  dilation: number;
  /** Channel groups; `groups == in == out` runs a depthwise convolution. */
  groups: number;
}

/**
 * 2-D convolution with PyTorch semantics on NHWC input and a `[kh, kw, in/groups, out]` kernel.
 *
 * Dilation is computed as spaceToBatchND → dense conv → batchToSpaceND because tfjs's conv
 * gradients reject dilation > 1 on every backend; the result is identical and trainable.
 */
export function torchConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, opts: TorchConvOptions): tf.Tensor4D {
  const { strides, padding, dilation, groups } = opts;
  const [pt, pb, pl, pr] = padding;
  const inChannels = x.shape[3];
  const outChannels = kernel.shape[3];
  if (dilation > 1 && (strides[0] !== 1 || strides[1] !== 1)) {
    throw new Error(`torchConv2d: dilation ${dilation} with stride ${strides.join('x')} is not supported (use stride 1)`);
  }
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`torchConv2d: ${inChannels} input and ${outChannels} output channels are not divisible by groups=${groups}`);
  }
  if (kernel.shape[2] * groups !== inChannels) {
    throw new Error(`torchConv2d: kernel expects ${kernel.shape[2] * groups} input channels, input has ${inChannels}`);
  }
  const padded = pt || pb || pl || pr ? tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : x;
  const depthwise = groups > 1 && groups === inChannels && groups === outChannels;

  const run = (input: tf.Tensor4D): tf.Tensor4D => {
    if (groups === 1) return tf.conv2d(input, kernel, strides, 'valid');
    if (depthwise) {
      // [kh, kw, 1, C] and [kh, kw, C, 1] share one memory order: a free reshape.
      const k = tf.reshape(kernel, [kernel.shape[0], kernel.shape[1], outChannels, 1]) as tf.Tensor4D;
      return tf.depthwiseConv2d(input, k, strides, 'valid');
    }
    return groupedConv2d(input, kernel, strides, groups);
  };

  if (dilation === 1) return run(padded);
  return dilated(padded, dilation, kernel.shape[0], kernel.shape[1], run);
}

/** Runs a stride-1 'valid' conv `run` at dilation `d` through spaceToBatchND / batchToSpaceND. */
export function dilated(
  x: tf.Tensor4D,
  d: number,
  kh: number,
  kw: number,
  run: (x: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  const [, h, w] = x.shape;
  const outH = h - d * (kh - 1);
  const outW = w - d * (kw - 1);
  if (outH <= 0 || outW <= 0) {
    throw new Error(`dilated conv: input ${h}x${w} is smaller than the dilated ${kh}x${kw} kernel at rate ${d}`);
  }
  const extraH = (d - (h % d)) % d;
  const extraW = (d - (w % d)) % d;
  const s2b = tf.spaceToBatchND(x, [d, d], [[0, extraH], [0, extraW]]) as tf.Tensor4D;
  const y = run(s2b);
  return tf.batchToSpaceND(y, [d, d], [[0, extraH], [0, extraW]]) as tf.Tensor4D;
}

/**
 * Grouped convolution (tfjs has no grouped conv kernel), stride `strides`, no padding, kernel
 * `[kh, kw, in/groups, out]`, trainable (first-order gradients).
 *
 * One dense conv per group, as the plain formulation ({@link groupedConv2dSplit}), but the
 * channel groups are separated and re-interleaved by single JS passes over the values, inside a
 * custom gradient whose backward pass does the same around the per-group input and filter
 * gradient kernels. tfjs's own split/concat/transpose along the channel axis are the bottleneck
 * otherwise: on wasm every Slice re-reads the whole input (G slices cost G full copies) and the
 * channel-axis Slice/Concat move a few floats per call. Reading values is synchronous, which is
 * cheap on the cpu and wasm backends this library trains on (on webgl it would stall the GPU).
 */
export function groupedConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, strides: Pair, groups: number): tf.Tensor4D {
  if (groups === 1) return tf.conv2d(x, kernel, strides, 'valid');
  const [n, h, w, cin] = x.shape;
  const [kh, kw, cg, cout] = kernel.shape;
  if (cin !== cg * groups || cout % groups !== 0) {
    throw new Error(`groupedConv2d: input ${cin} / output ${cout} channels do not fit groups=${groups} with a ${kernel.shape} kernel`);
  }
  const cog = cout / groups;
  const xGroupShape: [number, number, number, number] = [n, h, w, cg];
  const kGroupShape: [number, number, number, number] = [kh, kw, cg, cog];
  // A kernel [kh, kw, cg, g·cog] is channel-interleaved like an image of kh·kw·cg pixels.
  const kAsImage = [1, kh * kw * cg, 1, cout];
  const split = (t: tf.Tensor, asShape: number[]) => splitGroups(t.dataSync() as Float32Array, asShape, groups);
  const tensors = (parts: Float32Array[], shape: [number, number, number, number]) => parts.map((v) => tf.tensor4d(v, shape));

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, kIn] = args as [tf.Tensor4D, tf.Tensor4D];
    // The per-group copies are kept for the backward pass instead of re-splitting saved tensors.
    const xParts = split(xIn, xIn.shape);
    const kParts = split(kIn, kAsImage);
    const ys = tf.tidy(() => {
      const xs = tensors(xParts, xGroupShape);
      const ks = tensors(kParts, kGroupShape);
      return xs.map((xi, i) => tf.conv2d(xi, ks[i], strides, 'valid'));
    });
    const [, ho, wo] = ys[0].shape;
    const value = tf.tensor4d(mergeGroups(ys.map((y) => y.dataSync() as Float32Array), [n, ho, wo, cog]), [n, ho, wo, cout]);
    tf.dispose(ys);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const xs = tensors(xParts, xGroupShape);
      const ks = tensors(kParts, kGroupShape);
      const dys = tensors(split(dy, dy.shape), [n, ho, wo, cog]);
      const dxs = dys.map((d, i) => tf.conv2dTranspose(d, ks[i], xGroupShape, strides, 'valid'));
      const dks = dys.map(
        (d, i) =>
          tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xs[i], dy: d }, {
            strides,
            pad: 'valid',
            dataFormat: 'NHWC',
            dimRoundingMode: undefined,
            filterShape: kGroupShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
      );
      const dx = tf.tensor4d(mergeGroups(dxs.map((t) => t.dataSync() as Float32Array), xGroupShape), x.shape);
      const dk = tf.tensor4d(mergeGroups(dks.map((t) => t.dataSync() as Float32Array), [1, kh * kw * cg, 1, cog]), kernel.shape);
      tf.dispose([...xs, ...ks, ...dys, ...dxs, ...dks]);
      return [dx, dk];
    };
    return { value, gradFunc };
  });
  return op(x, kernel) as tf.Tensor4D;
}

/** Grouped convolution by splitting the channel axis: the plain formulation, kept as a reference. */
export function groupedConv2dSplit(x: tf.Tensor4D, kernel: tf.Tensor4D, strides: Pair, groups: number): tf.Tensor4D {
  const xs = tf.split(x, groups, 3);
  const ks = tf.split(kernel, groups, 3);
  const ys = xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, strides, 'valid'));
  return tf.concat(ys, 3) as tf.Tensor4D;
}

/**
 * The `groups` channel groups of a channel-last `[..., g·c]` array (shape `asShape`, C order)
 * as g contiguous arrays `[..., c]`.
 */
export function splitGroups(src: Float32Array, asShape: readonly number[], groups: number): Float32Array[] {
  const cAll = asShape[asShape.length - 1];
  if (cAll % groups !== 0) throw new Error(`splitGroups: ${cAll} channels are not divisible by groups=${groups}`);
  const c = cAll / groups;
  const pixels = src.length / cAll;
  const out = Array.from({ length: groups }, () => new Float32Array(pixels * c));
  // One sequential pass over the source (the strided reads of a per-group loop thrash the cache).
  let s = 0;
  for (let p = 0, d = 0; p < pixels; p++, d += c) {
    for (let g = 0; g < groups; g++) {
      const dst = out[g];
      for (let k = 0; k < c; k++) dst[d + k] = src[s++];
    }
  }
  return out;
}

/** Inverse of {@link splitGroups}: g arrays of shape `groupShape` (`[..., c]`) interleaved into `[..., g·c]`. */
export function mergeGroups(parts: Float32Array[], groupShape: readonly number[]): Float32Array {
  const c = groupShape[groupShape.length - 1];
  const groups = parts.length;
  const pixels = parts[0].length / c;
  const out = new Float32Array(pixels * c * groups);
  let d = 0;
  for (let p = 0, s = 0; p < pixels; p++, s += c) {
    for (let g = 0; g < groups; g++) {
      const src = parts[g];
      for (let k = 0; k < c; k++) out[d++] = src[s + k];
    }
  }
  return out;
}
