import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The slice of the wasm backend's API that composite kernels use (structural, so no runtime import). */
export interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
}

/**
 * Runs wasm kernels from inside another kernel and frees every intermediate they produce.
 *
 * Kernels called directly (not through tf ops) bypass the engine's bookkeeping, so each output
 * owns one backend reference that must be released by hand; `keep` marks the result that leaves.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel == null) throw new Error(`wasm training kernels: kernel ${name} is not registered for wasm`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend as unknown as tf.KernelBackend });
    if (Array.isArray(out)) {
      this.temps.push(...out);
      throw new Error(`wasm training kernels: ${name} returned several outputs; use runMulti`);
    }
    this.temps.push(out);
    return out;
  }

  /** Runs a given kernel function (e.g. a stock kernel that a replacement wraps). */
  call(kernelFunc: tf.KernelFunc, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const out = kernelFunc({ inputs, attrs, backend: this.backend as unknown as tf.KernelBackend });
    if (Array.isArray(out)) {
      this.temps.push(...out);
      throw new Error('wasm training kernels: kernel returned several outputs');
    }
    this.temps.push(out);
    return out;
  }

  runMulti(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo[] {
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel == null) throw new Error(`wasm training kernels: kernel ${name} is not registered for wasm`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend as unknown as tf.KernelBackend });
    const list = Array.isArray(out) ? out : [out];
    this.temps.push(...list);
    return list;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Adds zero rows/columns to the spatial axes of an NHWC tensor; negative amounts crop instead. */
  padOrCrop(x: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
    let cur = x;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const [n, h, w, c] = cur.shape;
      const ct = Math.max(0, -top);
      const cb = Math.max(0, -bottom);
      const cl = Math.max(0, -left);
      const cr = Math.max(0, -right);
      cur = this.run('Slice', { x: cur }, { begin: [0, ct, cl, 0], size: [n, h - ct - cb, w - cl - cr, c] });
    }
    const pt = Math.max(0, top);
    const pb = Math.max(0, bottom);
    const pl = Math.max(0, left);
    const pr = Math.max(0, right);
    if (pt || pb || pl || pr) {
      cur = this.run('PadV2', { x: cur }, { paddings: [[0, 0], [pt, pb], [pl, pr], [0, 0]], constantValue: 0 });
    }
    return cur;
  }

  /** Frees every intermediate except `result` (which may itself be one of them). */
  finish(result: TensorInfo): TensorInfo {
    this.dispose(result);
    return result;
  }

  /** Frees every intermediate except `keep`. */
  dispose(keep?: TensorInfo): void {
    for (const t of this.temps) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.temps.length = 0;
  }
}

/**
 * Wraps a composite kernel body so its intermediates are freed even when it throws.
 */
export function composite(
  body: (scope: KernelScope, inputs: NamedTensorInfoMap, attrs: NamedAttrMap) => TensorInfo,
): tf.KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const scope = new KernelScope(backend as unknown as WasmBackendLike);
    try {
      return scope.finish(body(scope, inputs, attrs ?? {}));
    } catch (e) {
      scope.dispose();
      throw e;
    }
  };
}
