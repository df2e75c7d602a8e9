import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Dropout } from '@busi/core';

/** Channel-wise dropout (PyTorch Dropout2d: whole NHWC channels are zeroed together, seeded per step), or `x` when rate is 0. */
export function dropout2d(x: SymbolicTensor, name: string, rate: number): SymbolicTensor {
  if (rate === 0) return x;
  return new Dropout({ name, rate, noiseShape: [null, 1, 1, null] }).apply(x) as SymbolicTensor;
}

/** Element-wise dropout (PyTorch Dropout, seeded per step), or `x` when rate is 0. */
export function dropout(x: SymbolicTensor, name: string, rate: number): SymbolicTensor {
  if (rate === 0) return x;
  return new Dropout({ name, rate }).apply(x) as SymbolicTensor;
}
