import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';

/** Constructor arguments of {@link Resize}. */
export interface ResizeArgs {
  /** Layer name. */
  name?: string;
  /**
   * Integer scale factor. Omit it to resize to the spatial size of a second input
   * (call the layer on `[x, reference]`).
   */
  scale?: number;
  /** Interpolation: 'nearest' (PyTorch's default 'nearest') or 'bilinear'. Default 'nearest'. */
  mode?: 'nearest' | 'bilinear';
  /** PyTorch's align_corners for bilinear (false means half-pixel centres). Default false. */
  alignCorners?: boolean;
}

/**
 * Spatial resize with PyTorch `F.interpolate` semantics, by an integer scale or to a reference's size.
 * Bilinear resizing has an exact gradient on every backend (see {@link resizeBilinearTorch}).
 */
export class Resize extends layers.Layer {
  /** Name the layer is serialised and registered under (`BusiResize`). */
  static className = 'BusiResize';
  /** Integer scale factor, or null when the layer resizes to the size of its second input. */
  readonly scale: number | null;
  /** Interpolation, 'nearest' or 'bilinear'. */
  readonly mode: 'nearest' | 'bilinear';
  /** PyTorch's align_corners (bilinear only; false means half-pixel centres). */
  readonly alignCorners: boolean;

  constructor(args: ResizeArgs) {
    super({ name: args.name });
    this.scale = args.scale ?? null;
    this.mode = args.mode ?? 'nearest';
    this.alignCorners = args.alignCorners ?? false;
    if (this.mode === 'nearest' && this.alignCorners) {
      throw new Error(`Resize ${args.name ?? ''}: align_corners applies only to bilinear mode`);
    }
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const s = shapes[0];
    if (this.scale != null) {
      return [s[0], s[1] == null ? null : s[1] * this.scale, s[2] == null ? null : s[2] * this.scale, s[3]];
    }
    if (shapes.length < 2) throw new Error(`Resize ${this.name}: without a scale the layer needs [x, reference] inputs`);
    return [s[0], shapes[1][1], shapes[1][2], s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const x = list[0] as tf.Tensor4D;
      let size: [number, number];
      if (this.scale != null) size = [x.shape[1] * this.scale, x.shape[2] * this.scale];
      else {
        if (list.length < 2) throw new Error(`Resize ${this.name}: without a scale the layer needs [x, reference] inputs`);
        size = [list[1].shape[1]!, list[1].shape[2]!];
      }
      if (size[0] === x.shape[1] && size[1] === x.shape[2]) return tf.clone(x);
      if (this.mode === 'nearest') return resizeNearestTorch(x, size);
      return resizeBilinearTorch(x, size, this.alignCorners);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, mode: this.mode, alignCorners: this.alignCorners };
  }
}
tf.serialization.registerClass(Resize);

/**
 * PyTorch 'nearest': source index floor(dst · in / out). For integer up-scaling this is a pure
 * repeat, done with reshape + tile-free broadcasting so it stays cheap and trainable.
 */
export function resizeNearestTorch(x: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [oh, ow] = size;
  if (oh % h === 0 && ow % w === 0) {
    const sh = oh / h;
    const sw = ow / w;
    const expanded = tf.reshape(x, [n, h, 1, w, 1, c]);
    const ones = tf.ones([1, 1, sh, 1, sw, 1]);
    return tf.reshape(tf.mul(expanded, ones), [n, oh, ow, c]) as tf.Tensor4D;
  }
  const rows = tf.tensor1d(Array.from({ length: oh }, (_, i) => Math.floor((i * h) / oh)), 'int32');
  const cols = tf.tensor1d(Array.from({ length: ow }, (_, i) => Math.floor((i * w) / ow)), 'int32');
  return tf.gather(tf.gather(x, rows, 1), cols, 2) as tf.Tensor4D;
}

/** Row `i` holds the weights output index `i` gives to each input index along one axis (PyTorch bilinear). */
export function bilinearMatrix(inSize: number, outSize: number, alignCorners: boolean): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    // Half-pixel centres clamp negative source coordinates to 0, as PyTorch does.
    const src = alignCorners ? i * scale : Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = src - i0;
    m[i * inSize + i0] += 1 - l1;
    m[i * inSize + i1] += l1;
  }
  return m;
}

/**
 * PyTorch's bilinear `F.interpolate` (align_corners true or false) for NHWC tensors. The forward
 * pass is tfjs' own kernel, which matches PyTorch (half-pixel centres for align_corners=false,
 * checked against a float64 reference in the tests). The gradient is not: tfjs'
 * ResizeBilinearGrad ignores half-pixel centres (and the cpu kernel swaps height and width of its
 * result), so the gradient is `A_hᵀ · dy · A_w` with the interpolation matrices, exact on every
 * backend that has matMul and transpose.
 */
export function resizeBilinearTorch(x: tf.Tensor4D, size: [number, number], alignCorners: boolean): tf.Tensor4D {
  const [, h, w] = x.shape;
  const [oh, ow] = size;
  if (oh === h && ow === w) return tf.clone(x);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const value = tf.image.resizeBilinear(args[0] as tf.Tensor4D, size, alignCorners, !alignCorners);
    const gradFunc = (dy: tf.Tensor) =>
      tf.tidy(() => {
        const ah = transposed(bilinearMatrix(h, oh, alignCorners), oh, h);
        const aw = transposed(bilinearMatrix(w, ow, alignCorners), ow, w);
        return separableMatMul(dy as tf.Tensor4D, ah, [h, oh], aw, [w, ow]);
      });
    return { value, gradFunc };
  });
  return op(x) as tf.Tensor4D;
}

function transposed(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
  return t;
}

/**
 * `M_h · x · M_wᵀ` for every sample and channel of an NHWC tensor, with `M_h` of shape
 * `[outH, H]` and `M_w` of shape `[outW, W]` given row-major.
 */
export function separableMatMul(
  x: tf.Tensor4D,
  mh: Float32Array,
  mhShape: [number, number],
  mw: Float32Array,
  mwShape: [number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [oh] = mhShape;
    const [ow] = mwShape;
    if (mhShape[1] !== h || mwShape[1] !== w) {
      throw new Error(`separableMatMul: matrices [${mhShape}] and [${mwShape}] do not fit a ${h}x${w} map`);
    }
    // Bring the contracted axis first, multiply, and put the axes back.
    const cols = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
    const y = tf.reshape(tf.matMul(tf.tensor2d(mh, mhShape), cols), [oh, n, w, c]); // [oh, N, W, C]
    const rows = tf.reshape(tf.transpose(y, [2, 0, 1, 3]), [w, oh * n * c]); // [W, oh·N·C]
    const z = tf.reshape(tf.matMul(tf.tensor2d(mw, mwShape), rows), [ow, oh, n, c]);
    return tf.transpose(z, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}
