import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { convForwardKernel, convGradKernels } from './wasm/conv-grads';
import { dataMovementKernels } from './wasm/data-movement';

/**
 * Every kernel this module installs on the wasm backend (missing ones and faster replacements).
 * Wrappers that defer to a stock kernel for cases they skip take it from the current registry,
 * so call this before the replacements are registered.
 */
export function wasmTrainingKernelConfigs(): KernelConfig[] {
  const stock = (name: string) => (replaced.get(name) ?? tf.getKernel(name, 'wasm'))?.kernelFunc;
  const conv = stock(tf.Conv2D);
  if (conv == null) throw new Error('busi wasm kernels: stock wasm Conv2D missing');
  return [convForwardKernel(conv), ...convGradKernels, ...dataMovementKernels(stock)];
}

const replaced = new Map<string, KernelConfig>();
let installed: KernelConfig[] = [];
let registered = false;

/**
 * Makes the tfjs wasm backend able to train the busi models: registers the gradient kernels it
 * lacks (Conv2DBackpropFilter, depthwise backprops) and replaces slow ones, all composed from
 * the backend's own XNNPACK kernels. Idempotent; call before or after `tf.setBackend('wasm')`.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  installed = wasmTrainingKernelConfigs();
  for (const config of installed) {
    const existing = tf.getKernel(config.kernelName, 'wasm');
    if (existing != null) {
      replaced.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    // A replaced kernel's setup (its cwrap of the C++ entry point) must still run when the
    // backend initialises later, since the replacement may fall back on other wasm kernels.
    tf.registerKernel({ ...config, setupFunc: config.setupFunc ?? existing?.setupFunc });
  }
  registered = true;
}

/** Restores the wasm backend's stock kernels (for comparisons in benchmarks and tests). */
export function unregisterWasmTrainingKernels(): void {
  if (!registered) return;
  for (const config of installed) {
    tf.unregisterKernel(config.kernelName, 'wasm');
    const original = replaced.get(config.kernelName);
    if (original != null) tf.registerKernel(original);
  }
  replaced.clear();
  registered = false;
}

/** Whether {@link registerWasmTrainingKernels} is in effect. */
export function wasmTrainingKernelsRegistered(): boolean {
  return registered;
}
