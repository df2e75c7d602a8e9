import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { convOutLength, pair, padding4, single, type Padding4, type Pair } from './util';

/** Constructor arguments of {@link MaxPool2d}. */
export interface MaxPool2dArgs {
  /** Layer name. */
  name?: string;
  /** Window size, one number or [kh, kw]. */
  poolSize: number | [number, number];
  /** Stride; defaults to the window size as in PyTorch. */
  strides?: number | [number, number];
  /** Implicit -inf padding as PyTorch's `padding`: n, [ph, pw] or [top, bottom, left, right]. Default 0. */
  padding?: number | [number, number] | [number, number, number, number];
}

/** Max pooling with PyTorch's explicit symmetric padding (tfjs 'same' pads only at the end for even sizes). */
export class MaxPool2d extends layers.Layer {
  /** Name the layer is serialised and registered under (`BusiMaxPool2d`). */
  static className = 'BusiMaxPool2d';
  /** Window size as [kh, kw]. */
  readonly poolSize: Pair;
  /** Stride as [sh, sw]. */
  readonly strides: Pair;
  /** Implicit -inf padding as [top, bottom, left, right]. */
  readonly padding: Padding4;

  constructor(args: MaxPool2dArgs) {
    super({ name: args.name });
    this.poolSize = pair(args.poolSize, 'poolSize');
    this.strides = pair(args.strides ?? args.poolSize, 'strides');
    this.padding = padding4(args.padding ?? 0);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const [pt, pb, pl, pr] = this.padding;
    return [
      s[0],
      convOutLength(s[1], this.poolSize[0], this.strides[0], pt, pb),
      convOutLength(s[2], this.poolSize[1], this.strides[1], pl, pr),
      s[3],
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let x = single(inputs) as tf.Tensor4D;
      const [pt, pb, pl, pr] = this.padding;
      if (pt || pb || pl || pr) x = tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]], -Infinity);
      return tf.maxPool(x, this.poolSize, this.strides, 'valid');
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}
tf.serialization.registerClass(MaxPool2d);
