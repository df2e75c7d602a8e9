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
 * Bilinear resizing is computed as two interpolation-matrix products (see {@link resizeBilinearTorch}),
 * so its gradient is exact on every backend.
 */
export class Resize extends layers.Layer {
  static className = 'BusiResize';
  readonly scale: number | null;
  readonly mode: 'nearest' | 'bilinear';
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
 * PyTorch's bilinear `F.interpolate` (align_corners true or false) for NHWC tensors, as
 * `A_h · x · A_wᵀ` per channel. tfjs' own ResizeBilinearGrad ignores half-pixel centres (and the cpu
 * kernel swaps height and width of its result), so the matrix form is used instead: its gradient
 * is the transposed products, exact and available wherever matMul and transpose are.
 */
export function resizeBilinearTorch(x: tf.Tensor4D, size: [number, number], alignCorners: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [oh, ow] = size;
    const doH = oh !== h;
    const doW = ow !== w;
    if (!doH && !doW) return tf.clone(x);
    let y: tf.Tensor;
    if (doH) {
      const mh = tf.tensor2d(bilinearMatrix(h, oh, alignCorners), [oh, h]);
      const cols = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
      y = tf.reshape(tf.matMul(mh, cols), [oh, n, w, c]); // [oh, N, W, C]
      if (!doW) return tf.transpose(y, [1, 0, 2, 3]) as tf.Tensor4D;
      y = tf.transpose(y, [2, 0, 1, 3]); // [W, oh, N, C]
    } else {
      y = tf.transpose(x, [2, 0, 1, 3]); // [W, N, H, C]
    }
    const mw = tf.tensor2d(bilinearMatrix(w, ow, alignCorners), [ow, w]);
    const [, a, b] = y.shape;
    const z = tf.reshape(tf.matMul(mw, tf.reshape(y, [w, a * b * c])), [ow, a, b, c]);
    // z is [ow, oh, N, C] after an H pass, else [ow, N, H, C].
    return (doH ? tf.transpose(z, [2, 1, 0, 3]) : tf.transpose(z, [1, 2, 0, 3])) as tf.Tensor4D;
  });
}
