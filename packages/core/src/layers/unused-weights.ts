import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { InitializedWeight, SeededInitialization } from '../random/seeding';
import type { TorchLayout, TorchMappable, TorchParam } from './torch-params';
import { single } from './util';

/** One weight held by {@link UnusedWeights}. */
export interface UnusedWeightSpec {
  /** Name after the layer name, e.g. `weight` or `running_var`. */
  suffix: string;
  /** Shape in tfjs layout (e.g. `[kh, kw, in, out]` for a conv kernel). */
  shape: number[];
  /** Layout relative to PyTorch. Default 'identity'. */
  layout?: TorchLayout;
  /** Whether PyTorch counts it as a parameter (requires_grad) rather than a buffer. Default true. */
  trainable?: boolean;
  /** Initial value ('kaiming': He-uniform). Default 'zeros'. */
  init?: 'zeros' | 'ones' | 'kaiming';
}

/** Constructor arguments of {@link UnusedWeights}. */
export interface UnusedWeightsArgs {
  /** Layer name: the PyTorch module path of the unused module (e.g. `encoder._conv_head`). */
  name?: string;
  /** The weights the PyTorch module holds (not `weights`: Keras configs reserve that key for initial values). */
  held: UnusedWeightSpec[];
}

/**
 * Holds the weights of a PyTorch module that exists in the reference model but never runs (e.g.
 * EfficientNet's `_conv_head` / `_bn1` kept by smp), so that parameter counts and state dicts match
 * the reference. It is an identity on its input: its weights get no gradient and never affect
 * outputs.
 */
export class UnusedWeights extends layers.Layer implements TorchMappable, SeededInitialization {
  /** Name the layer is serialised and registered under (`BusiUnusedWeights`). */
  static className = 'BusiUnusedWeights';
  /** The held weights, with every default filled in and suffixes back in PyTorch's snake_case. */
  readonly specs: UnusedWeightSpec[];
  private vars: LayerVariable[] = [];
  private inits: InitializedWeight[] = [];

  constructor(args: UnusedWeightsArgs) {
    super({ name: args.name });
    this.specs = args.held.map((w) => ({
      // tfjs camel-cases string values of nested configs on load (running_mean -> runningMean);
      // PyTorch names are snake_case, so converting back is lossless.
      suffix: w.suffix.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`),
      shape: [...w.shape],
      layout: w.layout ?? 'identity',
      trainable: w.trainable ?? true,
      init: w.init ?? 'zeros',
    }));
  }

  override build(_inputShape: Shape | Shape[]): void {
    this.inits = this.specs.map((w) => {
      const initializer = w.init === 'ones' ? initializers.ones() : w.init === 'kaiming' ? initializers.heUniform({}) : initializers.zeros();
      return { variable: this.addWeight(w.suffix, w.shape, 'float32', initializer, undefined, w.trainable), initializer };
    });
    this.vars = this.inits.map((w) => w.variable);
    this.built = true;
  }

  /** Every held weight with its initializer. */
  weightInitializers(): InitializedWeight[] {
    return [...this.inits];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.clone(single(inputs));
  }

  torchParams(): TorchParam[] {
    return this.specs.map((w, i) => ({ name: `${this.name}.${w.suffix}`, variable: this.vars[i], layout: w.layout! }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), held: this.specs as unknown as tf.serialization.ConfigDictArray };
  }
}
tf.serialization.registerClass(UnusedWeights);

/** Options of {@link heldConv2d}. */
export interface HeldConv2dOptions {
  /** Square kernel size. */
  kernelSize: number;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  filters: number;
  /** Channel groups (the kernel holds `inChannels / groups` inputs per filter). Default 1. */
  groups?: number;
  /** Whether the conv has a bias. Default false. */
  bias?: boolean;
}

const under = (module: string, suffix: string) => (module ? `${module}.${suffix}` : suffix);

/** The weights of a PyTorch `nn.Conv2d` at `module` (relative to the holder; '' for the holder itself), for {@link UnusedWeights}. */
export function heldConv2d(module: string, o: HeldConv2dOptions): UnusedWeightSpec[] {
  const shape = [o.kernelSize, o.kernelSize, o.inChannels / (o.groups ?? 1), o.filters];
  const specs: UnusedWeightSpec[] = [{ suffix: under(module, 'weight'), shape, layout: 'conv2d', init: 'kaiming' }];
  if (o.bias) specs.push({ suffix: under(module, 'bias'), shape: [o.filters] });
  return specs;
}

/** The scale, shift and running statistics of a PyTorch `nn.BatchNorm2d` at `module` (as {@link heldConv2d}), for {@link UnusedWeights}. */
export function heldBatchNorm2d(module: string, channels: number): UnusedWeightSpec[] {
  return [
    { suffix: under(module, 'weight'), shape: [channels], init: 'ones' },
    { suffix: under(module, 'bias'), shape: [channels] },
    { suffix: under(module, 'running_mean'), shape: [channels], trainable: false },
    { suffix: under(module, 'running_var'), shape: [channels], trainable: false, init: 'ones' },
  ];
}
