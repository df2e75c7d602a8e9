import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { mixSeed } from '../random/rng';
import type { StochasticLayer } from '../random/seeding';
import { isTraining, single } from './util';

/** Constructor arguments of {@link DropConnect}. */
export interface DropConnectArgs {
  /** Layer name; busi uses the PyTorch module path of the owning block (e.g. `encoder._blocks.3.drop_connect`). */
  name?: string;
  /** Probability of dropping a whole sample's residual branch, in [0, 1). 0 makes the layer an identity. */
  rate: number;
  /** Seed of the random masks, for reproducible training runs (each call advances it). Default: unseeded. */
  seed?: number;
}

/**
 * Stochastic depth as EfficientNet uses it ("drop connect"): in training, each sample's residual
 * branch is zeroed with probability `rate` and the kept ones are divided by `1 - rate`, so the
 * expectation is unchanged; in inference it is the identity. Mirrors lukemelas'
 * `drop_connect`: `x / keep · floor(keep + U[0,1))`, one draw per sample.
 */
export class DropConnect extends layers.Layer implements StochasticLayer {
  /** Name the layer is serialised and registered under (`BusiDropConnect`). */
  static className = 'BusiDropConnect';
  /** Probability of dropping a whole sample's residual branch during training, in [0, 1). */
  readonly rate: number;
  /** Seed given at construction, used until {@link DropConnect.reseed} is called; undefined: unseeded masks. */
  readonly seed?: number;
  private calls = 0;
  private stepSeed: number | undefined;

  constructor(args: DropConnectArgs) {
    super({ name: args.name, trainable: false });
    if (!(args.rate >= 0 && args.rate < 1)) {
      throw new Error(`DropConnect ${args.name ?? ''}: rate must be in [0, 1), got ${args.rate}`);
    }
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = single(inputs);
    if (!isTraining(kwargs) || this.rate === 0) return tf.clone(x);
    return tf.tidy(() => {
      const keep = 1 - this.rate;
      const maskShape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
      // The mask is data, not a function of x: no gradient flows through the draw.
      const mask = tf.floor(tf.add(tf.randomUniform(maskShape, 0, 1, 'float32', this.nextSeed()), keep));
      return tf.mul(x, tf.div(mask, keep));
    });
  }

  /** Seeds the masks of the following training calls (the trainer calls it before each step). */
  reseed(seed: number): void {
    this.stepSeed = seed >>> 0;
    this.calls = 0;
  }

  // A fixed seed would draw the same mask at every step; advancing it keeps runs reproducible but varied.
  private nextSeed(): number | undefined {
    if (this.stepSeed !== undefined) return mixSeed(this.stepSeed, this.calls++);
    return this.seed === undefined ? undefined : this.seed + this.calls++;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), rate: this.rate };
    if (this.seed !== undefined) config['seed'] = this.seed;
    return config;
  }
}
tf.serialization.registerClass(DropConnect);
