import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { TorchMappable, TorchParam } from './torch-params';
import { single } from './util';

/** Constructor arguments of {@link GroupNorm}. */
export interface GroupNormArgs {
  /** Layer name; busi uses the PyTorch module path (e.g. `decoder.seg_blocks.0.block.0.block.1`). */
  name?: string;
  /** Number of channel groups (PyTorch `num_groups`); the channel count must be divisible by it. */
  groups: number;
  /** Added to the variance before the square root. Default 1e-5 (PyTorch). */
  eps?: number;
  /** Whether the layer has a per-channel scale (`weight`) and shift (`bias`). Default true. */
  affine?: boolean;
  /** Whether the weights are trainable. Default true. */
  trainable?: boolean;
}

/**
 * Group normalisation over NHWC inputs with PyTorch's semantics: the channels are split into
 * `groups` contiguous blocks and each sample is normalised over (H, W, channels of its block) with
 * the biased variance, then scaled and shifted per channel. It has no running state, so training
 * and inference compute the same thing.
 */
export class GroupNorm extends layers.Layer implements TorchMappable {
  /** Name the layer is serialised and registered under (`BusiGroupNorm`). */
  static className = 'BusiGroupNorm';
  /** Number of channel groups normalised together (PyTorch `num_groups`). */
  readonly groups: number;
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Whether the layer has a per-channel scale and shift; without them it has no weights. */
  readonly affine: boolean;
  private gamma?: LayerVariable;
  private beta?: LayerVariable;

  constructor(args: GroupNormArgs) {
    super({ name: args.name, trainable: args.trainable });
    if (!Number.isInteger(args.groups) || args.groups <= 0) {
      throw new Error(`GroupNorm ${args.name ?? ''}: groups must be a positive integer, got ${args.groups}`);
    }
    this.groups = args.groups;
    this.eps = args.eps ?? 1e-5;
    this.affine = args.affine ?? true;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`GroupNorm ${this.name}: the channel dimension must be known`);
    if (c % this.groups !== 0) {
      throw new Error(`GroupNorm ${this.name}: ${c} channels are not divisible by groups=${this.groups}`);
    }
    if (this.affine) {
      this.gamma = this.addWeight('weight', [c], 'float32', initializers.ones());
      this.beta = this.addWeight('bias', [c], 'float32', initializers.zeros());
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      if (x.rank !== 4) throw new Error(`GroupNorm ${this.name}: expected an NHWC tensor, got shape [${x.shape}]`);
      const [n, h, w, c] = x.shape;
      const g = this.groups;
      if (c % g !== 0) throw new Error(`GroupNorm ${this.name}: ${c} channels are not divisible by groups=${g}`);
      // Channel c belongs to group floor(c / (C/G)), as PyTorch's view(N, G, -1) of NCHW.
      const grouped = tf.reshape(x, [n, h, w, g, c / g]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const normed = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, this.eps)));
      let y = tf.reshape(normed, [n, h, w, c]);
      if (this.affine) y = tf.add(tf.mul(y, this.gamma!.read()), this.beta!.read());
      return y;
    });
  }

  torchParams(): TorchParam[] {
    if (!this.affine) return [];
    return [
      { name: `${this.name}.weight`, variable: this.gamma!, layout: 'identity' },
      { name: `${this.name}.bias`, variable: this.beta!, layout: 'identity' },
    ];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups, eps: this.eps, affine: this.affine };
  }
}
tf.serialization.registerClass(GroupNorm);
