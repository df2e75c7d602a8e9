import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { InitializedWeight, SeededInitialization } from '../random/seeding';
import type { TorchMappable, TorchParam } from './torch-params';
import { single } from './util';

/** Constructor arguments of {@link Linear}. */
export interface LinearArgs {
  /** Layer name; busi uses the PyTorch module path (e.g. `classification_head.3`). */
  name?: string;
  /** Output features. */
  units: number;
  /** Whether to add a bias. Default true. */
  useBias?: boolean;
  /** Whether the weights are trainable. Default true. */
  trainable?: boolean;
}

/** A dense layer on the last axis, kernel `[in, out]`, mapped to PyTorch's `nn.Linear` `[out, in]`. */
export class Linear extends layers.Layer implements TorchMappable, SeededInitialization {
  /** Name the layer is serialised and registered under (`BusiLinear`). */
  static className = 'BusiLinear';
  /** Output features. */
  readonly units: number;
  /** Whether the layer adds a bias. */
  readonly useBias: boolean;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;
  private readonly inits: InitializedWeight[] = [];

  constructor(args: LinearArgs) {
    super({ name: args.name, trainable: args.trainable });
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new Error(`Linear ${args.name ?? ''}: units must be a positive integer, got ${args.units}`);
    }
    this.units = args.units;
    this.useBias = args.useBias ?? true;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const inFeatures = shape[shape.length - 1];
    if (inFeatures == null) throw new Error(`Linear ${this.name}: the feature dimension must be known`);
    const kernelInit = initializers.glorotUniform({});
    this.kernel = this.addWeight('weight', [inFeatures, this.units], 'float32', kernelInit);
    this.inits.push({ variable: this.kernel, initializer: kernelInit });
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], 'float32', initializers.zeros());
    this.built = true;
  }

  /** The kernel's initializer (the bias starts at zero). */
  weightInitializers(): InitializedWeight[] {
    return [...this.inits];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor2D;
      const y = tf.matMul(x, this.kernel!.read() as tf.Tensor2D);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  torchParams(): TorchParam[] {
    const out: TorchParam[] = [{ name: `${this.name}.weight`, variable: this.kernel!, layout: 'linear' }];
    if (this.bias) out.push({ name: `${this.name}.bias`, variable: this.bias, layout: 'identity' });
    return out;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, useBias: this.useBias };
  }
}
tf.serialization.registerClass(Linear);
