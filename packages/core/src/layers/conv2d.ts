import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers, initializers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { torchConv2d } from '../ops/conv';
import type { InitializedWeight, SeededInitialization } from '../random/seeding';
import type { TorchMappable, TorchParam } from './torch-params';
import { convOutLength, pair, padding4, single, type Padding4, type Pair } from './util';

type Initializer = ReturnType<typeof initializers.heNormal>;

/** Constructor arguments of {@link Conv2d}. */
export interface Conv2dArgs {
  /** Layer name; busi uses the PyTorch module path (e.g. `encoder.layer1.0.conv1`). */
  name?: string;
  /** Number of output channels. */
  filters: number;
  /** Kernel size, one number or [kh, kw]. */
  kernelSize: number | [number, number];
  /** Stride, one number or [sh, sw]. Default 1. */
  strides?: number | [number, number];
  /** Zero padding as PyTorch's `padding`: n, [ph, pw], or an explicit [top, bottom, left, right]. Default 0. */
  padding?: number | [number, number] | [number, number, number, number];
  /** Dilation rate (stride must then be 1). Default 1. */
  dilation?: number;
  /** Channel groups (PyTorch `groups`); equal to the input and output channels for a depthwise conv. Default 1. */
  groups?: number;
  /** Whether the layer adds a bias. Default true, as in PyTorch. */
  useBias?: boolean;
  /** Kernel initialiser. Default: He-uniform (PyTorch's kaiming_uniform with a=sqrt(5) is close; imported weights replace it). */
  kernelInitializer?: Initializer;
  /** Bias initialiser. Default zeros. */
  biasInitializer?: Initializer;
  /** Whether the weights are trainable. Default true. */
  trainable?: boolean;
}

/**
 * A 2-D convolution with PyTorch's exact semantics: explicit (possibly asymmetric) zero padding,
 * dilation that trains on every backend, and channel groups. Kernel layout `[kh, kw, in/groups, out]`.
 */
export class Conv2d extends layers.Layer implements TorchMappable, SeededInitialization {
  /** Name the layer is serialised and registered under (`BusiConv2d`), distinct from tfjs's own `Conv2D`. */
  static className = 'BusiConv2d';
  /** Number of output channels. */
  readonly filters: number;
  /** Kernel size as [kh, kw]. */
  readonly kernelSize: Pair;
  /** Stride as [sh, sw]. */
  readonly strides: Pair;
  /** Zero padding as [top, bottom, left, right]. */
  readonly padding: Padding4;
  /** Dilation rate, the same along both axes. */
  readonly dilation: number;
  /** Channel groups (PyTorch `groups`): each group of `in/groups` input channels feeds `filters/groups` outputs. */
  readonly groups: number;
  /** Whether the layer adds a bias. */
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: Conv2dArgs) {
    super({ name: args.name, trainable: args.trainable });
    if (!Number.isInteger(args.filters) || args.filters <= 0) {
      throw new Error(`Conv2d ${args.name ?? ''}: filters must be a positive integer, got ${args.filters}`);
    }
    this.filters = args.filters;
    this.kernelSize = pair(args.kernelSize, 'kernelSize');
    this.strides = pair(args.strides ?? 1, 'strides');
    this.padding = padding4(args.padding ?? 0);
    this.dilation = args.dilation ?? 1;
    this.groups = args.groups ?? 1;
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = args.kernelInitializer ?? initializers.heUniform({});
    this.biasInitializer = args.biasInitializer ?? initializers.zeros();
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const inChannels = shape[3];
    if (inChannels == null) throw new Error(`Conv2d ${this.name}: the channel dimension must be known`);
    if (inChannels % this.groups !== 0) {
      throw new Error(`Conv2d ${this.name}: ${inChannels} input channels are not divisible by groups=${this.groups}`);
    }
    const [kh, kw] = this.kernelSize;
    this.kernel = this.addWeight('weight', [kh, kw, inChannels / this.groups, this.filters], 'float32', this.kernelInitializer);
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', this.biasInitializer);
    this.built = true;
  }
  /** The kernel's and the bias's initializers. */
  weightInitializers(): InitializedWeight[] {
    const out: InitializedWeight[] = [];
    if (this.kernel) out.push({ variable: this.kernel, initializer: this.kernelInitializer });
    if (this.bias) out.push({ variable: this.bias, initializer: this.biasInitializer });
    return out;
  }


  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const [pt, pb, pl, pr] = this.padding;
    return [
      s[0],
      convOutLength(s[1], this.kernelSize[0], this.strides[0], pt, pb, this.dilation),
      convOutLength(s[2], this.kernelSize[1], this.strides[1], pl, pr, this.dilation),
      this.filters,
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      let y = torchConv2d(x, this.kernel!.read() as tf.Tensor4D, {
        strides: this.strides,
        padding: this.padding,
        dilation: this.dilation,
        groups: this.groups,
      });
      if (this.bias) y = tf.add(y, this.bias.read());
      return y;
    });
  }

  torchParams(): TorchParam[] {
    const out: TorchParam[] = [{ name: `${this.name}.weight`, variable: this.kernel!, layout: 'conv2d' }];
    if (this.bias) out.push({ name: `${this.name}.bias`, variable: this.bias, layout: 'identity' });
    return out;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      useBias: this.useBias,
    };
  }
}
tf.serialization.registerClass(Conv2d);
