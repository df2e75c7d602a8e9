import type { LayersModel } from '@tensorflow/tfjs-layers';

/** Throws `name: message`: how every conformance check reports a broken contract. */
export function conformanceFail(name: string, message: string): never {
  throw new Error(`${name}: ${message}`);
}

/** Structural equality of JSON-like values (configs, shapes, channel lists). */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Number of trainable scalars of a tfjs model. */
export function countTrainableParams(model: LayersModel): number {
  return model.trainableWeights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
}
