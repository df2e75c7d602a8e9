import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';

/** Constructor arguments of {@link PositionAttentionMap}. */
export interface PositionAttentionMapArgs {
  /** Layer name. */
  name?: string;
}

/**
 * The weight-free core of MAnet's position-wise attention block (smp's `PAB.forward` between its
 * convs), on `[top, center, bottom]` (NHWC; top and center with the PAB width, bottom with C
 * channels): `A = softmax(center·topᵀ)` over all (h·w)² entries of a sample at once, then `A·bottom`.
 * smp turns that `[hw, C]` product into `[C, h, w]` with a plain reshape (not a transpose), which
 * scrambles positions and channels; this layer does the same, so results match.
 */
export class PositionAttentionMap extends layers.Layer {
  /** The name tfjs-layers serialises this layer under and looks up when a saved model loads. */
  static className = 'BusiPositionAttentionMap';

  constructor(args: PositionAttentionMapArgs = {}) {
    super({ name: args.name });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = inputShape as Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 3) throw new Error(`PositionAttentionMap ${this.name}: expects [top, center, bottom]`);
    return shapes[2];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 3) throw new Error(`PositionAttentionMap ${this.name}: expects [top, center, bottom]`);
      const [top, center, bottom] = inputs as tf.Tensor4D[];
      const [n, h, w, c] = bottom.shape;
      const hw = h * w;
      const p = top.shape[3];
      // NHWC flattened over positions is PyTorch's `flatten(2).transpose(1, 2)`: [n, hw, channels].
      const scores = tf.matMul(tf.reshape(center, [n, hw, p]), tf.reshape(top, [n, hw, p]), false, true);
      const weights = tf.reshape(tf.softmax(tf.reshape(scores, [n, hw * hw])), [n, hw, hw]);
      const attended = tf.matMul(weights, tf.reshape(bottom, [n, hw, c]));
      // smp's `reshape(n, C, h, w)` of the [n, hw, C] product, then back to NHWC.
      return tf.transpose(tf.reshape(attended, [n, c, h, w]), [0, 2, 3, 1]);
    });
  }
}
tf.serialization.registerClass(PositionAttentionMap);
