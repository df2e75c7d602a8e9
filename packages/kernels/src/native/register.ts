import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { loadNativeAddon, nativeAddonStatus } from './addon';
import { nativeKernelConfigs } from './kernels';
import { WASM_TARGET } from './kernel-utils';

const previous = new Map<string, KernelConfig>();
let installed: KernelConfig[] = [];

/** Options of {@link registerNativeKernels}. */
export interface NativeKernelOptions {
  /** Threads for BLAS and the patch loops; default: every core (`os.availableParallelism()`). */
  threads?: number;
}

/**
 * Routes the wasm backend's dense convolutions (forward and both gradients) and batched matmuls
 * through the busi native addon (system BLAS on every core) when it has been built. Returns
 * whether the native kernels are now in effect; without the addon nothing changes. Register the
 * wasm training kernels first: cases the addon does not take (NCHW, non-float32) go to whatever
 * kernel was registered before.
 */
export function registerNativeKernels(options: NativeKernelOptions = {}): boolean {
  const addon = loadNativeAddon();
  if (addon == null) return false;
  if (options.threads != null) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new Error(`registerNativeKernels: threads must be a positive integer, got ${options.threads}`);
    }
    addon.setThreads(options.threads);
  }
  if (installed.length > 0) return true;
  const fallback = (name: string): tf.KernelFunc => {
    const k = previous.get(name) ?? tf.getKernel(name, 'wasm');
    if (k == null) throw new Error(`busi native: no wasm kernel ${name} to fall back on`);
    return k.kernelFunc;
  };
  installed = nativeKernelConfigs(addon, fallback, WASM_TARGET);
  for (const config of installed) {
    const existing = tf.getKernel(config.kernelName, 'wasm');
    if (existing != null) {
      previous.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel({ ...config, setupFunc: existing?.setupFunc });
  }
  return true;
}

/** Puts back the kernels that {@link registerNativeKernels} replaced. */
export function unregisterNativeKernels(): void {
  for (const config of installed) {
    tf.unregisterKernel(config.kernelName, 'wasm');
    const original = previous.get(config.kernelName);
    if (original != null) tf.registerKernel(original);
  }
  previous.clear();
  installed = [];
}

/** Whether the native kernels are registered, with the addon's thread count and load status. */
export function nativeKernelsInfo(): {
  /** Whether the native kernels are registered on the wasm backend (they then run its convolutions). */
  registered: boolean;
  /** BLAS threads the addon uses, or null without the addon. */
  threads: number | null;
  /** The addon's load status message (see `nativeAddonStatus`). */
  status: string;
} {
  const addon = loadNativeAddon();
  return { registered: installed.length > 0, threads: addon ? addon.getThreads() : null, status: nativeAddonStatus().reason };
}
