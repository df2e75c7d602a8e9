import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { layers, initializers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { TorchMappable, TorchParam } from './torch-params';
import { single } from './util';

/** Constructor arguments of {@link ConvTranspose2d}. */
export interface ConvTranspose2dArgs {
  /** Layer name; busi uses the PyTorch module path (e.g. `decoder.blocks.0.block.1.0`). */
  name?: string;
  /** Number of output channels. */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride (the up-sampling factor). Default 1. */
  strides?: number;
  /** PyTorch's `padding`: rows and columns cropped from each border of the full transposed output. Default 0. */
  padding?: number;
  /** Whether the layer adds a bias. Default true, as in PyTorch. */
  useBias?: boolean;
}

/**
 * PyTorch's `ConvTranspose2d` (no output padding, dilation 1, one group): output size
 * `(in − 1)·stride − 2·padding + kernelSize`. Computed as the full ('valid') transposed conv, then
 * cropped by `padding` on every border, so it runs on every backend's Conv2DBackpropInput. The
 * kernel is `[kh, kw, out, in]` (tfjs' transposed-conv layout), which is PyTorch's `[in, out, kh, kw]`
 * under the same permutation as a conv weight: layout 'conv2d'.
 */
export class ConvTranspose2d extends layers.Layer implements TorchMappable {
  /** Name the layer is serialised and registered under (`BusiConvTranspose2d`). */
  static className = 'BusiConvTranspose2d';
  /** Number of output channels. */
  readonly filters: number;
  /** Square kernel size. */
  readonly kernelSize: number;
  /** Stride: the up-sampling factor. */
  readonly strides: number;
  /** Rows and columns cropped from each border of the full transposed output (PyTorch `padding`). */
  readonly padding: number;
  /** Whether the layer adds a bias. */
  readonly useBias: boolean;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: ConvTranspose2dArgs) {
    super({ name: args.name });
    for (const [key, v, min] of [
      ['filters', args.filters, 1],
      ['kernelSize', args.kernelSize, 1],
      ['strides', args.strides ?? 1, 1],
      ['padding', args.padding ?? 0, 0],
    ] as const) {
      if (!Number.isInteger(v) || v < min) throw new Error(`ConvTranspose2d ${args.name ?? ''}: ${key} must be an integer >= ${min}, got ${v}`);
    }
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 0;
    this.useBias = args.useBias ?? true;
    if (2 * this.padding >= this.kernelSize) {
      throw new Error(`ConvTranspose2d ${this.name}: padding ${this.padding} must be below kernelSize / 2 (${this.kernelSize})`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const inChannels = shape[3];
    if (inChannels == null) throw new Error(`ConvTranspose2d ${this.name}: the channel dimension must be known`);
    const k = this.kernelSize;
    this.kernel = this.addWeight('weight', [k, k, this.filters, inChannels], 'float32', initializers.heUniform({}));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', initializers.zeros());
    this.built = true;
  }

  private outLength(n: number | null): number | null {
    return n == null ? null : (n - 1) * this.strides - 2 * this.padding + this.kernelSize;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [s[0], this.outLength(s[1]), this.outLength(s[2]), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const [n, h, w] = x.shape;
      const full = [(h - 1) * this.strides + this.kernelSize, (w - 1) * this.strides + this.kernelSize];
      let y: tf.Tensor4D = tf.conv2dTranspose(x, this.kernel!.read() as tf.Tensor4D, [n, full[0], full[1], this.filters], this.strides, 'valid');
      const p = this.padding;
      if (p > 0) y = tf.slice(y, [0, p, p, 0], [n, full[0] - 2 * p, full[1] - 2 * p, this.filters]);
      if (this.bias) y = tf.add(y, this.bias.read());
      return y;
    });
  }

  torchParams(): TorchParam[] {
    const out: TorchParam[] = [{ name: `${this.name}.weight`, variable: this.kernel!, layout: 'conv2d', init: 'module-default' }];
    if (this.bias) out.push({ name: `${this.name}.bias`, variable: this.bias, layout: 'identity', init: 'module-default' });
    return out;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, useBias: this.useBias };
  }
}
tf.serialization.registerClass(ConvTranspose2d);
