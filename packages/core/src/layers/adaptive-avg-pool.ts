import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { single } from './util';

/** Constructor arguments of {@link AdaptiveAvgPool2d}. */
export interface AdaptiveAvgPool2dArgs {
  /** Layer name. */
  name?: string;
  /** Output height and width (one number: a square output). */
  outputSize: number;
}

/**
 * PyTorch's `AdaptiveAvgPool2d`: output bin `i` of `o` along an axis of length `n` averages input
 * rows `floor(i·n/o)` to `ceil((i+1)·n/o) − 1`, so bins overlap when `o` does not divide `n` (and repeat
 * rows when `o > n`). Written
 * as two products with fixed averaging matrices (one per axis), which any backend differentiates.
 */
export class AdaptiveAvgPool2d extends layers.Layer {
  /** Name the layer is serialised and registered under (`BusiAdaptiveAvgPool2d`). */
  static className = 'BusiAdaptiveAvgPool2d';
  /** Output height and width (the output is square). */
  readonly outputSize: number;

  constructor(args: AdaptiveAvgPool2dArgs) {
    super({ name: args.name });
    if (!Number.isInteger(args.outputSize) || args.outputSize < 1) {
      throw new Error(`AdaptiveAvgPool2d ${args.name ?? ''}: outputSize must be a positive integer, got ${args.outputSize}`);
    }
    this.outputSize = args.outputSize;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [s[0], this.outputSize, this.outputSize, s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const [n, h, w, c] = x.shape;
      const o = this.outputSize;
      // [n, h, w, c] → [n·h·c, w] · [w, o] → [n, h, c, o] → [n·o·c, h] · [h, o] → [n, o(w), c, o(h)].
      let y = tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [n * h * c, w]);
      y = tf.matMul(y, adaptiveAverageMatrix(w, o));
      y = tf.reshape(tf.transpose(tf.reshape(y, [n, h, c, o]), [0, 3, 2, 1]), [n * o * c, h]);
      y = tf.matMul(y, adaptiveAverageMatrix(h, o));
      return tf.transpose(tf.reshape(y, [n, o, c, o]), [0, 3, 1, 2]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputSize: this.outputSize };
  }
}
tf.serialization.registerClass(AdaptiveAvgPool2d);

/** `[n, o]` matrix whose column `i` averages PyTorch's adaptive-pooling bin `i` of an axis of length `n`. */
export function adaptiveAverageMatrix(n: number, o: number): tf.Tensor2D {
  const m = new Float32Array(n * o);
  for (let i = 0; i < o; i++) {
    const start = Math.floor((i * n) / o);
    const end = Math.ceil(((i + 1) * n) / o);
    for (let r = start; r < end; r++) m[r * o + i] = 1 / (end - start);
  }
  return tf.tensor2d(m, [n, o]);
}
