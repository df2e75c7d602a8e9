import * as tf from '@tensorflow/tfjs-core';
import type { initializers, layers, LayerVariable } from '@tensorflow/tfjs-layers';
import { fnv1a32, mixSeed } from './rng';

/** A tfjs-layers weight initializer (zeros, heUniform, varianceScaling, ...). */
export type WeightInitializer = ReturnType<typeof initializers.zeros>;

/** A weight together with the initializer that drew its first value. */
export interface InitializedWeight {
  /** The weight. */
  variable: LayerVariable;
  /** Its initializer; a random one is redrawn with a seed by {@link initializeWeights}. */
  initializer: WeightInitializer;
}

/** A layer whose weights can be redrawn from a seed: it names the initializer of each weight. */
export interface SeededInitialization {
  /** Every weight of the layer with its initializer, in a fixed order. */
  weightInitializers(): InitializedWeight[];
}

/** A layer that draws random numbers in training (dropout, drop connect) and takes a seed per step. */
export interface StochasticLayer {
  /** Seeds the draws of the next training call(s), until the next reseed. */
  reseed(seed: number): void;
}

/** Whether `layer` implements {@link SeededInitialization}. */
export function hasSeededInitialization(layer: unknown): layer is SeededInitialization {
  return typeof (layer as Partial<SeededInitialization>)?.weightInitializers === 'function';
}

/** Whether `layer` implements {@link StochasticLayer}. */
export function isStochasticLayer(layer: unknown): layer is StochasticLayer {
  return typeof (layer as Partial<StochasticLayer>)?.reseed === 'function';
}

/**
 * Redraws every randomly initialised weight of `layerList` from `seed`: each weight gets a copy of
 * its own initializer (same distribution, scale and fan mode) seeded with a value mixed from `seed`
 * and the layer's name and weight position, so the result depends on neither the process's history
 * nor the order layers were built in. Constant initializers (zeros, ones) are left alone. Returns
 * the number of weights redrawn.
 */
export function initializeWeights(layerList: readonly layers.Layer[], seed: number): number {
  let redrawn = 0;
  for (const layer of layerList) {
    if (!hasSeededInitialization(layer)) continue;
    layer.weightInitializers().forEach(({ variable, initializer }, k) => {
      const config = initializer.getConfig() as Record<string, unknown>;
      // tfjs's random initializers all carry a `seed` in their config; constant ones do not.
      if (!('seed' in config)) return;
      const Ctor = initializer.constructor as new (args: Record<string, unknown>) => WeightInitializer;
      const seeded = new Ctor({ ...config, seed: mixSeed(seed, fnv1a32(layer.name), k) });
      const value = seeded.apply(variable.shape, variable.dtype);
      variable.write(value);
      tf.dispose(value);
      redrawn++;
    });
  }
  return redrawn;
}

/** Seeds every {@link StochasticLayer} of `layerList` for one training step (each layer its own stream). */
export function reseedStochasticLayers(layerList: readonly layers.Layer[], seed: number): void {
  for (const layer of layerList) if (isStochasticLayer(layer)) layer.reseed(mixSeed(seed, fnv1a32(layer.name)));
}
