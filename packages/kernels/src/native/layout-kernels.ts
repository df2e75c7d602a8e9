import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { ELEMENTWISE_MIN, heap, nextRow, type Fallback, type KernelTarget } from './kernel-utils';

/**
 * `x` of `shape` padded by `paddings` ([before, after] per dimension) with `value` into `out`:
 * the output is filled, then each innermost row of x is copied to its place.
 */
export function padInto(x: Float32Array, shape: readonly number[], paddings: ReadonlyArray<readonly [number, number]>, value: number, out: Float32Array): void {
  const rank = shape.length;
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const ostride = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) ostride[d] = ostride[d + 1] * outShape[d + 1];
  out.fill(value);
  if (x.length === 0) return;
  const inner = shape[rank - 1];
  const coord = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let obase = paddings.reduce((s, p, d) => s + p[0] * ostride[d], 0);
  for (let xi = 0; xi < x.length; xi += inner) {
    out.set(x.subarray(xi, xi + inner), obase);
    obase = nextRow(coord, shape, ostride, obase);
  }
}

/**
 * NHWC max pooling of `x` (dilation 1) into `out` for `info` from computePool2DInfo: positions
 * outside the input are skipped, and a NaN never wins, as in tfjs-backend-cpu.
 */
export function maxPoolInto(x: Float32Array, info: tf.backend_util.Conv2DInfo, out: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const best = new Float32Array(c);
  let o = 0;
  for (let n = 0; n < batchSize; n++) {
    const xn = n * inHeight * inWidth * c;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++, o += c) {
        const w0 = ow * strideWidth - left;
        best.fill(-Infinity);
        for (let kh = 0; kh < filterHeight; kh++) {
          const h = h0 + kh;
          if (h < 0 || h >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const w = w0 + kw;
            if (w < 0 || w >= inWidth) continue;
            const base = xn + (h * inWidth + w) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              if (v > best[k]) best[k] = v;
            }
          }
        }
        out.set(best, o);
      }
    }
  }
}

/**
 * The 'native' backend's PadV2 and MaxPool for large float32 NHWC tensors (a ResNet stem pads and
 * pools its widest map): tfjs-backend-cpu converts every element's index to coordinates. Other
 * cases go to `previous(name)`.
 */
export function layoutKernelConfigs(previous: Fallback, target: KernelTarget): KernelConfig[] {
  const nextPad = previous(tf.PadV2);
  const nextPool = previous(tf.MaxPool);
  const pad: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs ?? {};
    const paddings = attrs.paddings as Array<[number, number]>;
    const size = x.shape.reduce((p, q) => p * q, 1);
    if (x.dtype !== 'float32' || size < ELEMENTWISE_MIN || x.shape.length === 0 || paddings.some(([a, b]) => a < 0 || b < 0)) return nextPad(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput(x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]), 'float32');
    padInto(heap(backend, x), x.shape, paddings, Number(attrs.constantValue ?? 0), heap(backend, out));
    return out;
  };
  const maxPool: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs ?? {};
    const size = x.shape.reduce((p, q) => p * q, 1);
    if (x.dtype !== 'float32' || x.shape.length !== 4 || size < ELEMENTWISE_MIN) return nextPool(args);
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterSize as [number, number] | number,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as 'valid' | 'same' | number,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    if (info.outHeight <= 0 || info.outWidth <= 0) return nextPool(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...info.outShape], 'float32');
    maxPoolInto(heap(backend, x), info, heap(backend, out));
    return out;
  };
  return [
    { kernelName: tf.PadV2, backendName: target.backendName, kernelFunc: pad },
    { kernelName: tf.MaxPool, backendName: target.backendName, kernelFunc: maxPool },
  ];
}
