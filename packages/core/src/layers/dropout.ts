import * as tf from '@tensorflow/tfjs-core';
import { layers, type Shape } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { mixSeed } from '../random/rng';
import type { StochasticLayer } from '../random/seeding';
import { isTraining, single } from './util';

/** Constructor arguments of {@link Dropout}. */
export interface DropoutArgs {
  /** Layer name (busi uses the PyTorch module path, e.g. `classification_head.2`). */
  name?: string;
  /** Probability of zeroing a unit, in [0, 1). */
  rate: number;
  /**
   * Shape of the random mask, broadcast over the input; `null` entries take the input's size.
   * `[null, 1, 1, null]` drops whole NHWC channels (PyTorch's Dropout2d). Default: the input's shape.
   */
  noiseShape?: (number | null)[] | null;
}

/**
 * Inverted dropout (kept units are scaled by `1 / (1 - rate)`; inference is the identity) whose
 * masks are seeded per training step: the trainer calls {@link Dropout.reseed} before each step, so
 * a seeded run draws the same masks every time, with no global random state. Without a reseed the
 * masks are unseeded, as tfjs's own dropout.
 */
export class Dropout extends layers.Layer implements StochasticLayer {
  /** Name the layer is serialised and registered under (`BusiDropout`). */
  static className = 'BusiDropout';
  /** Probability of zeroing a unit during training, in [0, 1). */
  readonly rate: number;
  /** Shape of the random mask, broadcast over the input (`null` entries take the input's size); null: the input's shape. */
  readonly noiseShape: (number | null)[] | null;
  private stepSeed: number | undefined;
  private calls = 0;

  constructor(args: DropoutArgs) {
    super({ name: args.name, trainable: false });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`Dropout ${args.name ?? ''}: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.noiseShape = args.noiseShape ?? null;
  }

  /** Seeds the masks of the following training calls. */
  reseed(seed: number): void {
    this.stepSeed = seed >>> 0;
    this.calls = 0;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = single(inputs);
    if (!isTraining(kwargs) || this.rate === 0) return tf.clone(x);
    const noise = this.noiseShape ? x.shape.map((d, i) => this.noiseShape![i] ?? d) : x.shape;
    // Two calls in one step (micro-batches are separate steps) still get different masks.
    const seed = this.stepSeed === undefined ? undefined : mixSeed(this.stepSeed, this.calls++);
    return tf.dropout(x, this.rate, noise, seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, noiseShape: this.noiseShape };
  }
}
tf.serialization.registerClass(Dropout);
