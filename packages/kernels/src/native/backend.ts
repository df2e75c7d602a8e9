import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { WasmBackendLike } from '../wasm/kernel-scope';
import { loadNativeAddon } from './addon';
import { arrayKernelConfigs } from './array-kernels';
import { nativeKernelConfigs } from './kernels';
import type { KernelTarget } from './kernel-utils';

/** Registry name of the backend {@link registerNativeBackend} adds. */
export const NATIVE_BACKEND = 'native';

/**
 * The 'native' backend: tfjs-backend-cpu's tensors (ordinary JS typed arrays, so no 4 GiB wasm heap
 * and no ceiling but the machine's memory), every cpu kernel, and the busi native addon for the
 * heavy ones. The addon reads and writes the arrays in place (Node-API hands it their memory).
 */
export class NativeBackend extends MathBackendCPU {
  /**
   * The array view the native kernels use (an internal kernel interface, kept out of the API docs).
   * @hidden
   */
  readonly arrays: WasmBackendLike;

  constructor() {
    super();
    // The cpu backend's first write advises installing tfjs-node; here the native kernels are the point.
    (this as unknown as { firstUse: boolean }).firstUse = false;
    this.arrays = {
      makeOutput: (shape: number[], dtype: DataType) =>
        this.makeTensorInfo(shape, dtype, tf.util.getTypedArrayFromDType(dtype as 'float32', tf.util.sizeFromShape(shape))),
      typedArrayFromHeap: (info: TensorInfo) => this.floats(info),
      incRef: (dataId: object) => this.incRef(dataId),
      disposeData: (dataId: object, force?: boolean) => this.disposeData(dataId, force),
    };
  }

  /** The values of a numeric tensor as the typed array of its dtype (a float32 tensor made from a plain array is converted once). */
  private floats(info: TensorInfo): Float32Array | Int32Array | Uint8Array {
    const data = this.data.get(info.dataId);
    if (data.complexTensorInfos != null || info.dtype === 'string') {
      throw new Error(`busi native backend: ${info.dtype} tensors have no flat array for the native kernels`);
    }
    if (info.dtype === 'float32' && !(data.values instanceof Float32Array)) {
      data.values = Float32Array.from(data.values as ArrayLike<number>);
    }
    return data.values as Float32Array | Int32Array | Uint8Array;
  }
}

const NATIVE_TARGET: KernelTarget = {
  backendName: NATIVE_BACKEND,
  view: (backend) => (backend as NativeBackend).arrays,
};

let registered = false;

/**
 * Registers the 'native' backend when the addon loads: every kernel of the cpu backend copied under
 * the new name, then the native kernels over the heavy ones (cases they do not take go to the cpu
 * kernel). Returns whether the backend is available. Idempotent.
 */
export function registerNativeBackend(): boolean {
  // Asked every time: the answer follows the addon's load status (tests change BUSI_NATIVE_PATH).
  const addon = loadNativeAddon();
  if (addon == null) return false;
  if (registered) return true;
  const cpu = new Map<string, KernelConfig>(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, k]));
  for (const config of cpu.values()) tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  const cpuKernel = (name: string): tf.KernelFunc => {
    const k = cpu.get(name);
    if (k == null) throw new Error(`busi native backend: no cpu kernel ${name} to fall back on`);
    return k.kernelFunc;
  };
  const replace = (configs: KernelConfig[]) => {
    for (const config of configs) {
      if (tf.getKernel(config.kernelName, NATIVE_BACKEND) != null) tf.unregisterKernel(config.kernelName, NATIVE_BACKEND);
      tf.registerKernel(config);
    }
  };
  // Three layers: the cpu kernels, JS loops over the flat arrays where the cpu ones are slow, then
  // the C kernels, each handing the cases it does not take to the layer below.
  const js = arrayKernelConfigs(cpuKernel, NATIVE_TARGET);
  replace(js);
  const jsByName = new Map(js.map((k) => [k.kernelName, k.kernelFunc]));
  replace(nativeKernelConfigs(addon, (name) => jsByName.get(name) ?? cpuKernel(name), NATIVE_TARGET));
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  registered = true;
  return true;
}

/** Whether {@link registerNativeBackend} has registered the backend. */
export function nativeBackendRegistered(): boolean {
  return registered;
}
