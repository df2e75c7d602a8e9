import type { Tensor } from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';

/** The single tensor of a layer call (tfjs passes a one-element array at times). */
export function single(inputs: Tensor | Tensor[]): Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new Error(`expected exactly one input tensor, got ${inputs.length}`);
    return inputs[0];
  }
  return inputs;
}

/** `kwargs.training` as a boolean (tfjs passes it through untyped). */
export function isTraining(kwargs: Kwargs | undefined): boolean {
  return kwargs?.['training'] === true;
}

/** A size given per spatial axis, as [height, width]. */
export type Pair = [number, number];
/** Padding as [top, bottom, left, right]. */
export type Padding4 = [number, number, number, number];

/** Normalises a size given as one number or [h, w] to [h, w]; `what` names the argument in the error. */
export function pair(v: number | readonly number[], what: string): Pair {
  if (typeof v === 'number') return [v, v];
  if (v.length === 2) return [v[0], v[1]];
  throw new Error(`${what}: expected a number or [h, w], got ${JSON.stringify(v)}`);
}

/** Normalises PyTorch-style padding (n, [ph, pw] or [top, bottom, left, right]). */
export function padding4(v: number | readonly number[], what = 'padding'): Padding4 {
  if (typeof v === 'number') return [v, v, v, v];
  if (v.length === 2) return [v[0], v[0], v[1], v[1]];
  if (v.length === 4) return [v[0], v[1], v[2], v[3]];
  throw new Error(`${what}: expected a number, [ph, pw] or [top, bottom, left, right], got ${JSON.stringify(v)}`);
}

/** Output length of a convolution or pooling window along one axis (null stays unknown). */
export function convOutLength(
  size: number | null,
  kernel: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  dilation = 1,
): number | null {
  if (size == null) return null;
  return Math.floor((size + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}
