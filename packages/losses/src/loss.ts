import * as tf from '@tensorflow/tfjs-core';

/** How per-sample losses are combined: mean over the batch, sum, or the per-sample vector `[N]`. */
export type Reduction = 'mean' | 'sum' | 'none';

/** The serialisable description of a loss: its class name and constructor arguments. */
export interface LossConfig {
  /** Class name, e.g. `'FocalLoss'`. */
  className: string;
  /** Constructor arguments that rebuild an equal loss. */
  config: Record<string, unknown>;
}

/**
 * A differentiable loss: `call(prediction, target)` returns a scalar (or `[N]` under reduction
 * 'none') that can be used inside `tf.variableGrads` / `optimizer.minimize`.
 */
export interface Loss {
  /** Class name of the loss (used by {@link lossFromConfig}). */
  readonly className: string;
  /** The loss of `prediction` against `target`. */
  call(prediction: tf.Tensor, target: tf.Tensor): tf.Tensor;
  /** Every constructor argument, so that `new Loss(getConfig())` rebuilds it. */
  getConfig(): Record<string, unknown>;
}

/** Reduces a per-sample loss vector `[N]`. */
export function reduce(perSample: tf.Tensor1D, reduction: Reduction): tf.Tensor {
  switch (reduction) {
    case 'mean':
      return tf.mean(perSample);
    case 'sum':
      return tf.sum(perSample);
    case 'none':
      return perSample;
    default:
      throw new Error(`unknown reduction '${reduction as string}' (expected 'mean', 'sum' or 'none')`);
  }
}

/** A loss class that can be rebuilt from its config. */
export type LossConstructor = new (config: never) => Loss;
const lossClasses = new Map<string, LossConstructor>();

/** Makes a loss class known to {@link lossFromConfig} under its `className`. */
export function registerLoss(className: string, ctor: LossConstructor): void {
  lossClasses.set(className, ctor);
}

/** Rebuilds a loss from {@link serializeLoss}'s output. */
export function lossFromConfig(config: LossConfig): Loss {
  const ctor = lossClasses.get(config.className);
  if (ctor == null) {
    throw new Error(`unknown loss class '${config.className}' (known: ${[...lossClasses.keys()].join(', ')})`);
  }
  return new ctor(config.config as never);
}

/** Serialises a loss as `{className, config}`. */
export function serializeLoss(loss: Loss): LossConfig {
  return { className: loss.className, config: loss.getConfig() };
}
