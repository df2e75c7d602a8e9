import * as tf from '@tensorflow/tfjs-core';
import type { Pair, Padding4 } from '../layers/util';

/**
 * Optional backend kernels for the convolutions tfjs cannot train directly: grouped (tfjs has no
 * grouped conv) and dilated (tfjs's conv gradients reject dilation > 1), depthwise included.
 * Forward: inputs `{x, filter}` (filter `[kh, kw, in/groups, out]`), attributes `strides`, `pad`
 * (explicit, tfjs layout), `dilations` and `groups`; output y. Input gradient: inputs
 * `{dy, filter}` plus attribute `inputShape`; filter gradient: inputs `{x, dy}` plus
 * `filterShape`. Where a backend registers all three (the busi native kernels do, for wasm),
 * {@link torchConv2d} uses them; elsewhere grouped convs go through {@link groupedConv2d} and
 * dilated ones through {@link dilated}.
 */
export const TORCH_CONV2D = 'BusiTorchConv2D';
/** Input-gradient kernel of {@link TORCH_CONV2D}. */
export const TORCH_CONV2D_BACKPROP_INPUT = 'BusiTorchConv2DBackpropInput';
/** Filter-gradient kernel of {@link TORCH_CONV2D}. */
export const TORCH_CONV2D_BACKPROP_FILTER = 'BusiTorchConv2DBackpropFilter';

function hasTorchConvKernels(): boolean {
  const b = tf.getBackend();
  return [TORCH_CONV2D, TORCH_CONV2D_BACKPROP_INPUT, TORCH_CONV2D_BACKPROP_FILTER].every((k) => tf.getKernel(k, b) != null);
}

/** A grouped and/or dilated conv through the backend's {@link TORCH_CONV2D} kernels, with their gradients. */
function torchConv2dKernel(
  x: tf.Tensor4D, kernel: tf.Tensor4D, strides: Pair, pad: tf.backend_util.ExplicitPadding, dilation: number, groups: number,
): tf.Tensor4D {
  const attrs = { strides, pad, dilations: [dilation, dilation], groups, dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, kIn, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xIn, kIn]);
    const value = tf.engine().runKernel(TORCH_CONV2D, { x: xIn, filter: kIn }, attrs) as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ks] = saved;
      return [
        tf.engine().runKernel(TORCH_CONV2D_BACKPROP_INPUT, { dy, filter: ks }, { ...attrs, inputShape: xs.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel(TORCH_CONV2D_BACKPROP_FILTER, { x: xs, dy }, { ...attrs, filterShape: ks.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ];
    };
    return { value, gradFunc };
  });
  return op(x, kernel) as tf.Tensor4D;
}

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
  const anyPad = pt !== 0 || pb !== 0 || pl !== 0 || pr !== 0;
  const depthwise = groups > 1 && groups === inChannels && groups === outChannels;
  const depthwiseKernel = (): tf.Tensor4D =>
    // [kh, kw, 1, C] and [kh, kw, C, 1] share one memory order: a free reshape.
    tf.reshape(kernel, [kernel.shape[0], kernel.shape[1], outChannels, 1]) as tf.Tensor4D;

  if (dilation === 1 && (groups === 1 || depthwise)) {
    // The conv kernels and their gradients (cpu, wasm incl. busi's) take explicit padding: no padded
    // copy of the activation is made, and none is kept on the gradient tape.
    const pad: 'valid' | tf.backend_util.ExplicitPadding = anyPad ? [[0, 0], [pt, pb], [pl, pr], [0, 0]] : 'valid';
    return groups === 1 ? tf.conv2d(x, kernel, strides, pad) : tf.depthwiseConv2d(x, depthwiseKernel(), strides, pad);
  }

  if (hasTorchConvKernels()) {
    return torchConv2dKernel(x, kernel, strides, [[0, 0], [pt, pb], [pl, pr], [0, 0]], dilation, groups);
  }

  const padded = anyPad ? tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : x;
  const run = (input: tf.Tensor4D): tf.Tensor4D => {
    if (groups === 1) return tf.conv2d(input, kernel, strides, 'valid');
    if (depthwise) return tf.depthwiseConv2d(input, depthwiseKernel(), strides, 'valid');
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
 * `[kh, kw, in/groups, out]`, trainable (first-order gradients). `groupsPerConv` groups share one
 * dense conv with a block-diagonal kernel (default {@link defaultGroupsPerConv}).
 *
 * One dense conv per group, as the plain formulation ({@link groupedConv2dSplit}), but the
 * channel groups are separated and re-interleaved by single JS passes over the values, inside a
 * custom gradient whose backward pass does the same around the per-group input and filter
 * gradient kernels. tfjs's own split/concat/transpose along the channel axis are the bottleneck
 * otherwise: on wasm every Slice re-reads the whole input (G slices cost G full copies) and the
 * channel-axis Slice/Concat move a few floats per call. Reading values is synchronous, which is
 * cheap on the cpu and wasm backends this library trains on (on webgl it would stall the GPU).
 */
export function groupedConv2d(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  strides: Pair,
  groups: number,
  groupsPerConv = defaultGroupsPerConv(groups, kernel.shape[2]),
): tf.Tensor4D {
  if (groups === 1) return tf.conv2d(x, kernel, strides, 'valid');
  const [n, h, w, cin] = x.shape;
  const [kh, kw, cg, cout] = kernel.shape;
  if (cin !== cg * groups || cout % groups !== 0) {
    throw new Error(`groupedConv2d: input ${cin} / output ${cout} channels do not fit groups=${groups} with a ${kernel.shape} kernel`);
  }
  if (!Number.isInteger(groupsPerConv) || groupsPerConv < 1 || groups % groupsPerConv !== 0) {
    throw new Error(`groupedConv2d: groupsPerConv=${groupsPerConv} must divide groups=${groups}`);
  }
  const q = groupsPerConv;
  const chunks = groups / q;
  const cog = cout / groups;
  const taps = kh * kw;
  const xChunkShape: [number, number, number, number] = [n, h, w, q * cg];
  const kChunkShape: [number, number, number, number] = [kh, kw, q * cg, q * cog];
  // A kernel [kh, kw, cg, g·cog] is channel-interleaved like an image of kh·kw·cg pixels.
  const kAsImage = [1, taps * cg, 1, cout];
  const split = (t: tf.Tensor, asShape: number[]) => splitGroups(t.dataSync() as Float32Array, asShape, chunks);
  const tensors = (parts: Float32Array[], shape: [number, number, number, number]) => parts.map((v) => tf.tensor4d(v, shape));

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, kIn] = args as [tf.Tensor4D, tf.Tensor4D];
    // The per-chunk copies are kept for the backward pass instead of re-splitting saved tensors.
    const xParts = split(xIn, xIn.shape);
    const kParts = split(kIn, kAsImage).map((part) => blockDiagonal(part, taps, cg, cog, q));
    const ys = tf.tidy(() => {
      const xs = tensors(xParts, xChunkShape);
      const ks = tensors(kParts, kChunkShape);
      return xs.map((xi, i) => tf.conv2d(xi, ks[i], strides, 'valid'));
    });
    const [, ho, wo] = ys[0].shape;
    const value = tf.tensor4d(mergeGroups(ys.map((y) => y.dataSync() as Float32Array), [n, ho, wo, q * cog]), [n, ho, wo, cout]);
    tf.dispose(ys);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const xs = tensors(xParts, xChunkShape);
      const ks = tensors(kParts, kChunkShape);
      const dys = tensors(split(dy, dy.shape), [n, ho, wo, q * cog]);
      const dxs = dys.map((d, i) => tf.conv2dTranspose(d, ks[i], xChunkShape, strides, 'valid'));
      const dks = dys.map(
        (d, i) =>
          tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xs[i], dy: d }, {
            strides,
            pad: 'valid',
            dataFormat: 'NHWC',
            dimRoundingMode: undefined,
            filterShape: kChunkShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
      );
      const dx = tf.tensor4d(mergeGroups(dxs.map((t) => t.dataSync() as Float32Array), xChunkShape), x.shape);
      const dkParts = dks.map((t) => diagonalBlocks(t.dataSync() as Float32Array, taps, cg, cog, q));
      const dk = tf.tensor4d(mergeGroups(dkParts, [1, taps * cg, 1, q * cog]), kernel.shape);
      tf.dispose([...xs, ...ks, ...dys, ...dxs, ...dks]);
      return [dx, dk];
    };
    return { value, gradFunc };
  });
  return op(x, kernel) as tf.Tensor4D;
}

/**
 * How many groups {@link groupedConv2d} packs into one dense conv (a block-diagonal kernel, so
 * that many times the multiply-adds). Measured (packages/node/bench/grouped-conv.ts): on wasm,
 * XNNPACK convs with 4–8 channels per group are so inefficient that pairing groups cuts
 * forward+backward time by ~40 % at ResNeXt's layer1/layer2 widths, while 4+ per conv or wider
 * groups lose; on cpu the wasted work always costs (its filter gradient is FLOP-bound).
 */
export function defaultGroupsPerConv(groups: number, channelsPerGroup: number, backend = tf.getBackend()): number {
  return backend === 'wasm' && channelsPerGroup <= 8 && groups % 2 === 0 ? 2 : 1;
}

/** `[taps·cg, q·cog]` (q sub-groups side by side) -> block-diagonal `[taps, q·cg, q·cog]`. */
function blockDiagonal(part: Float32Array, taps: number, cg: number, cog: number, q: number): Float32Array {
  if (q === 1) return part;
  const rowIn = q * cog;
  const out = new Float32Array(taps * q * cg * q * cog);
  for (let t = 0; t < taps; t++) {
    for (let p = 0; p < cg; p++) {
      const src = (t * cg + p) * rowIn;
      for (let j = 0; j < q; j++) {
        const dst = (t * q * cg + j * cg + p) * rowIn + j * cog;
        for (let o = 0; o < cog; o++) out[dst + o] = part[src + j * cog + o];
      }
    }
  }
  return out;
}

/** Inverse of {@link blockDiagonal}: keeps the diagonal blocks (the gradient elsewhere is dropped). */
function diagonalBlocks(dense: Float32Array, taps: number, cg: number, cog: number, q: number): Float32Array {
  if (q === 1) return dense;
  const rowIn = q * cog;
  const out = new Float32Array(taps * cg * rowIn);
  for (let t = 0; t < taps; t++) {
    for (let p = 0; p < cg; p++) {
      const dst = (t * cg + p) * rowIn;
      for (let j = 0; j < q; j++) {
        const src = (t * q * cg + j * cg + p) * rowIn + j * cog;
        for (let o = 0; o < cog; o++) out[dst + j * cog + o] = dense[src + o];
      }
    }
  }
  return out;
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
