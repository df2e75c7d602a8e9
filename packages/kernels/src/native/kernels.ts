import type * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon';
import { convKernelConfigs } from './conv-kernels';
import { mathKernelConfigs } from './math-kernels';
import type { KernelTarget } from './kernel-utils';

export { broadcastLayout } from './math-kernels';

/**
 * Kernel configs that run `target`'s (wasm's or the 'native' backend's) dense and depthwise convolutions (forward and
 * gradients), batched matmuls, max-pool gradients, inference batch norm, sums and means over
 * leading/middle axes, large Relu / Sigmoid / Add / Multiply (same shapes and channel or
 * squeeze-excite broadcasts), and the fused training batch-norm kernels of `@busi/core` through
 * the native addon. `fallback(name)` gives the kernel a case the addon does not handle goes to (NCHW data,
 * non-float32 dtypes).
 */
export function nativeKernelConfigs(addon: NativeAddon, fallback: (name: string) => tf.KernelFunc, target: KernelTarget): KernelConfig[] {
  return [...convKernelConfigs(addon, fallback, target), ...mathKernelConfigs(addon, fallback, target)];
}
