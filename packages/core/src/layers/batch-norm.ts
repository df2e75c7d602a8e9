import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import type { TorchMappable, TorchParam } from './torch-params';
import { isTraining, single } from './util';

/** Constructor arguments of {@link BatchNorm2d}. */
export interface BatchNorm2dArgs {
  /** Layer name; busi uses the PyTorch module path (e.g. `encoder.bn1`). */
  name?: string;
  /** Added to the variance before the square root. Default 1e-5 (PyTorch); EfficientNet uses 1e-3. */
  eps?: number;
  /**
   * PyTorch momentum: `running = (1 - momentum)·running + momentum·batch`. Default 0.1.
   * (Keras' momentum is `1 - momentum` of this.)
   */
  momentum?: number;
  /** Whether the weights are trainable. Default true. */
  trainable?: boolean;
}

/**
 * Batch normalisation over NHWC channels with PyTorch semantics: biased batch variance to
 * normalise, unbiased variance (n/(n-1)) into the running estimate, PyTorch momentum.
 */
export class BatchNorm2d extends layers.Layer implements TorchMappable {
  /** Name the layer is serialised and registered under (`BusiBatchNorm2d`). */
  static className = 'BusiBatchNorm2d';
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** PyTorch momentum of the running statistics: `running = (1 - momentum)·running + momentum·batch`. */
  readonly momentum: number;
  private gamma?: LayerVariable;
  private beta?: LayerVariable;
  private runningMean?: LayerVariable;
  private runningVar?: LayerVariable;

  constructor(args: BatchNorm2dArgs = {}) {
    super({ name: args.name, trainable: args.trainable });
    this.eps = args.eps ?? 1e-5;
    this.momentum = args.momentum ?? 0.1;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`BatchNorm2d ${this.name}: the channel dimension must be known`);
    this.gamma = this.addWeight('weight', [c], 'float32', initializers.ones());
    this.beta = this.addWeight('bias', [c], 'float32', initializers.zeros());
    this.runningMean = this.addWeight('running_mean', [c], 'float32', initializers.zeros(), undefined, false);
    this.runningVar = this.addWeight('running_var', [c], 'float32', initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const gamma = this.gamma!.read();
      const beta = this.beta!.read();
      if (!isTraining(kwargs)) {
        return tf.batchNorm(x, this.runningMean!.read(), this.runningVar!.read(), beta, gamma, this.eps);
      }
      const n = x.size / x.shape[x.shape.length - 1];
      if (n <= 1) {
        throw new Error(
          `BatchNorm2d ${this.name}: training needs more than one value per channel, got input shape [${x.shape}] ` +
            '(a batch of one at a 1x1 map, e.g. DeepLabV3+ image pooling: use batch size > 1)',
        );
      }
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, this.eps);
      this.updateRunningStats(mean, variance, n);
      tf.dispose([mean, variance]);
      return y;
    });
  }

  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, n: number): void {
    const m = this.momentum;
    const rm = this.runningMean!;
    const rv = this.runningVar!;
    // Statistics are state, not part of the differentiated graph.
    const newMean = tf.add(tf.mul(rm.read(), 1 - m), tf.mul(mean, m));
    const unbiased = tf.mul(variance, n / (n - 1));
    const newVar = tf.add(tf.mul(rv.read(), 1 - m), tf.mul(unbiased, m));
    rm.write(newMean);
    rv.write(newVar);
  }

  torchParams(): TorchParam[] {
    return [
      { name: `${this.name}.weight`, variable: this.gamma!, layout: 'identity' },
      { name: `${this.name}.bias`, variable: this.beta!, layout: 'identity' },
      { name: `${this.name}.running_mean`, variable: this.runningMean!, layout: 'identity' },
      { name: `${this.name}.running_var`, variable: this.runningVar!, layout: 'identity' },
    ];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), eps: this.eps, momentum: this.momentum };
  }
}
tf.serialization.registerClass(BatchNorm2d);

/**
 * Name of an optional backend kernel for the forward pass of {@link batchNormTraining}: inputs
 * `{x, gamma, beta}` (x with channels last), attribute `eps`, outputs `[y, mean, variance, invStd]`
 * (per-channel biased variance and 1/sqrt(variance + eps)). A backend that registers it (the busi
 * native kernels do, for wasm) replaces the composed tfjs ops; others use those ops.
 */
export const BATCH_NORM_TRAIN_FORWARD = 'BusiBatchNormTrainForward';

/**
 * Name of an optional backend kernel for the backward pass of {@link batchNormTraining}: inputs
 * `{dy, x, mean, invStd, gamma}`, outputs `[dx, dgamma, dbeta]`. Used only where the backward pass
 * is not itself being differentiated (the kernel has no gradient).
 */
export const BATCH_NORM_TRAIN_BACKWARD = 'BusiBatchNormTrainBackward';

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}

/** Output and batch statistics of {@link batchNormTraining}. */
export interface BatchNormTrainingResult {
  /** Normalised, scaled and shifted input. */
  y: tf.Tensor;
  /** Per-channel batch mean (not on the gradient tape; the caller disposes it). */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance (not on the gradient tape; the caller disposes it). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation over every axis but the last, as one custom-gradient op.
 *
 * Composed of tfjs ops (moments, sub, mul, add), the gradient tape keeps every intermediate
 * full-size tensor of the chain for the backward pass: ~7× the input per layer. Here the tape
 * keeps only x (already alive as the previous op's output) and the per-channel mean and 1/σ;
 * the backward pass uses the closed form
 * dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 * Where the backend registers {@link BATCH_NORM_TRAIN_FORWARD} / {@link BATCH_NORM_TRAIN_BACKWARD},
 * each pass is one fused kernel instead.
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): BatchNormTrainingResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.size / x.shape[x.shape.length - 1];
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    let value: tf.Tensor;
    let mean: tf.Tensor1D;
    let variance: tf.Tensor1D;
    let invStd: tf.Tensor1D;
    if (hasKernel(BATCH_NORM_TRAIN_FORWARD)) {
      [value, mean, variance, invStd] = tf.engine().runKernel(
        BATCH_NORM_TRAIN_FORWARD, { x: xIn, gamma: g, beta: b }, { eps },
      ) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    } else {
      ({ mean, variance } = tf.moments(xIn, axes) as { mean: tf.Tensor1D; variance: tf.Tensor1D });
      invStd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor1D;
      const scale = tf.mul(g, invStd);
      value = tf.add(tf.mul(xIn, scale), tf.sub(b, tf.mul(mean, scale)));
    }
    save([xIn, mean, invStd]);
    // The forward runs in its own tidy scope: keep the statistics for the running estimates.
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    // tfjs runs a custom gradient eagerly in the scope of the whole backward pass: without this
    // tidy its full-size temporaries would stay alive until every gradient has been computed.
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] =>
      tf.tidy(() => {
        const [xs, m, inv] = saved;
        const taped = tf.engine().state.gradientDepth !== 0;
        if (!taped && hasKernel(BATCH_NORM_TRAIN_BACKWARD)) {
          const grads = tf.engine().runKernel(
            BATCH_NORM_TRAIN_BACKWARD, { dy, x: xs, mean: m, invStd: inv, gamma: g }, {},
          ) as unknown as tf.Tensor[];
          tf.dispose(saved);
          return grads;
        }
        // Centred first: sum(dy·x) − mean·sum(dy) cancels badly when |mean| ≫ σ.
        const xc = tf.sub(xs, m);
        const sumDy = tf.sum(dy, axes);
        const sumDyXc = tf.sum(tf.mul(dy, xc), axes);
        const a = tf.mul(g, inv);
        const b2 = tf.mul(tf.neg(a), tf.mul(tf.square(inv), tf.div(sumDyXc, n)));
        const c = tf.mul(tf.neg(a), tf.div(sumDy, n));
        const dx = tf.add(tf.add(tf.mul(dy, a), tf.mul(xc, b2)), c);
        const grads = [dx, tf.mul(sumDyXc, inv), sumDy];
        // tfjs frees saved tensors only after the whole backward pass; these clones are this op's
        // alone and often the last reference to the previous conv's output, so free them now. Not
        // when the backward pass is itself taped (higher-order gradients may replay it).
        if (!taped) tf.dispose(saved);
        return grads;
      });
    return { value, gradFunc };
  });
  const y = op(x, gamma, beta);
  return { y, mean: stats!.mean, variance: stats!.variance };
}

