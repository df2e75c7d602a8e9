import * as tf from '@tensorflow/tfjs-core';
import { TORCH_CONV2D, TORCH_CONV2D_BACKPROP_FILTER, TORCH_CONV2D_BACKPROP_INPUT } from '@busi/core';
import { webGpuConvKernelConfigs } from './conv-kernels';

/** Every kernel busi adds to tfjs-backend-webgpu. */
export function webGpuKernelConfigs(): tf.KernelConfig[] {
  return webGpuConvKernelConfigs({ forward: TORCH_CONV2D, backpropInput: TORCH_CONV2D_BACKPROP_INPUT, backpropFilter: TORCH_CONV2D_BACKPROP_FILTER });
}

/**
 * Registers busi's WGSL kernels for the 'webgpu' backend: core's grouped / dilated convolution
 * and its gradients (tfjs-backend-webgpu has every other kernel a training step of the paper's
 * models needs). Idempotent; the backend itself need not exist yet.
 */
export function registerWebGpuKernels(): void {
  for (const config of webGpuKernelConfigs()) {
    if (tf.getKernel(config.kernelName, 'webgpu') == null) tf.registerKernel(config);
  }
}

/** Removes what {@link registerWebGpuKernels} added (core then uses its composed fallbacks). */
export function unregisterWebGpuKernels(): void {
  for (const config of webGpuKernelConfigs()) {
    if (tf.getKernel(config.kernelName, 'webgpu') != null) tf.unregisterKernel(config.kernelName, 'webgpu');
  }
}
