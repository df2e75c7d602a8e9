import * as tf from '@tensorflow/tfjs-core';
import type { DataId, DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { WasmBackendLike } from '../wasm/kernel-scope';
import { loadNativeAddon } from './addon';
import { ArrayPool } from './array-pool';

type BackendValues = tf.backend_util.BackendValues;
import { arrayKernelConfigs } from './array-kernels';
import { broadcastKernelConfigs, elementwiseKernelConfigs } from './elementwise-kernels';
import { layoutKernelConfigs } from './layout-kernels';
import { reductionKernelConfigs } from './reduction-kernels';
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
  /** Freed float32 arrays kept for the kernels' next outputs (see array-pool.ts). */
  readonly pool = new ArrayPool();

  constructor() {
    super();
    // The cpu backend's first write advises installing tfjs-node; here the native kernels are the point.
    (this as unknown as { firstUse: boolean }).firstUse = false;
    this.arrays = {
      makeOutput: (shape: number[], dtype: DataType) => {
        const n = tf.util.sizeFromShape(shape);
        // Reused arrays are not zeroed: the kernels writing here write every element (they run on
        // the wasm heap too, whose allocations are not zeroed either).
        const values = dtype === 'float32' ? this.pool.take(n) : tf.util.getTypedArrayFromDType(dtype as 'int32', n);
        return this.makeTensorInfo(shape, dtype, values);
      },
      typedArrayFromHeap: (info: TensorInfo) => this.floats(info),
      incRef: (dataId: object) => this.incRef(dataId),
      disposeData: (dataId: object, force?: boolean) => this.disposeData(dataId, force),
    };
  }

  /** @hidden */
  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const id = super.write(values, shape, dtype);
    this.pool.attach(values);
    return id;
  }

  /** @hidden */
  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.pool.attach(values);
  }

  /** @hidden */
  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    // The cpu backend hands out its stored array itself, so it must never be reused.
    this.pool.escape(values);
    return values;
  }

  /** @hidden */
  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (released && values !== undefined && !this.data.has(dataId)) this.pool.detach(values);
    return released;
  }

  /** The values of a numeric tensor as the typed array of its dtype (a float32 tensor made from a plain array is converted once). */
  private floats(info: TensorInfo): Float32Array | Int32Array | Uint8Array {
    const data = this.data.get(info.dataId);
    if (data.complexTensorInfos != null || info.dtype === 'string') {
      throw new Error(`busi native backend: ${info.dtype} tensors have no flat array for the native kernels`);
    }
    if (info.dtype === 'float32' && !(data.values instanceof Float32Array)) {
      this.pool.detach(data.values);
      data.values = Float32Array.from(data.values as ArrayLike<number>);
      this.pool.attach(data.values);
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
  const below = (name: string) => jsByName.get(name) ?? cpuKernel(name);
  replace([...nativeKernelConfigs(addon, below, NATIVE_TARGET), ...elementwiseKernelConfigs(addon, below, NATIVE_TARGET)]);
  // Last, the general broadcasts and reductions, each handing the cases above to what is registered now.
  const registeredNow = (name: string) => tf.getKernel(name, NATIVE_BACKEND)?.kernelFunc ?? cpuKernel(name);
  replace([...broadcastKernelConfigs(addon, registeredNow, NATIVE_TARGET), ...reductionKernelConfigs(registeredNow, NATIVE_TARGET), ...layoutKernelConfigs(registeredNow, NATIVE_TARGET)]);
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  registered = true;
  return true;
}

/** Whether {@link registerNativeBackend} has registered the backend. */
export function nativeBackendRegistered(): boolean {
  return registered;
}
