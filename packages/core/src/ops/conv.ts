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

/** Grouped convolution as one dense conv per group (tfjs has no grouped conv kernel). */
export function groupedConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, strides: Pair, groups: number): tf.Tensor4D {
  const xs = tf.split(x, groups, 3);
  const ks = tf.split(kernel, groups, 3);
  const ys = xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, strides, 'valid'));
  return tf.concat(ys, 3) as tf.Tensor4D;
}
