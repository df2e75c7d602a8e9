import type { LayerVariable } from '@tensorflow/tfjs-layers';

/**
 * How a weight's TensorFlow.js layout relates to PyTorch's.
 * - `identity`: same shape and order (biases, norm scales, running statistics).
 * - `conv2d`: tfjs `[kh, kw, in/groups, out]` ⇄ PyTorch `[out, in/groups, kh, kw]`.
 * - `linear`: tfjs `[in, out]` ⇄ PyTorch `[out, in]`.
 */
export type TorchLayout = 'identity' | 'conv2d' | 'linear';

/** One weight of a layer under its PyTorch state-dict name. */
export interface TorchParam {
  /** Full PyTorch state-dict name, e.g. `encoder.layer1.0.conv1.weight`. */
  name: string;
  /** The tfjs variable holding the value. */
  variable: LayerVariable;
  /** Layout conversion between the two frameworks. */
  layout: TorchLayout;
  /**
   * Set when the PyTorch module is one the reference's initialisers pass over, so it keeps PyTorch's
   * per-module default whatever its part's spec says: 'module-default' for `nn.ConvTranspose2d`
   * (smp's `initialize_decoder` matches `nn.Conv2d`, which ConvTranspose2d is not). Default: the part's spec.
   */
  init?: 'module-default';
}

/** A layer that can list its weights under PyTorch names (all busi layers with weights do). */
export interface TorchMappable {
  /** Every weight of the layer under its PyTorch state-dict name, in the order PyTorch lists them. */
  torchParams(): TorchParam[];
}

/** Whether `layer` lists its weights under PyTorch names (has a `torchParams` method). */
export function isTorchMappable(layer: unknown): layer is TorchMappable {
  return typeof (layer as TorchMappable | null)?.torchParams === 'function';
}

/** Permutation taking a tfjs-layout tensor to PyTorch layout. */
export function toTorchPermutation(layout: TorchLayout): number[] | null {
  switch (layout) {
    case 'conv2d':
      return [3, 2, 0, 1];
    case 'linear':
      return [1, 0];
    default:
      return null;
  }
}

/** Permutation taking a PyTorch-layout tensor to tfjs layout. */
export function fromTorchPermutation(layout: TorchLayout): number[] | null {
  switch (layout) {
    case 'conv2d':
      return [2, 3, 1, 0];
    case 'linear':
      return [1, 0];
    default:
      return null;
  }
}

/** PyTorch shape of a tfjs-layout shape. */
export function torchShape(shape: readonly number[], layout: TorchLayout): number[] {
  const perm = toTorchPermutation(layout);
  return perm ? perm.map((p) => shape[p]) : [...shape];
}
