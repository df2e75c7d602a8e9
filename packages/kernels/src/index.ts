// @busi/kernels: the tfjs backend busi trains on. initBackend picks it; the wasm training kernels
// and the optional native (C + BLAS) kernels are registered through it. Kernel internals
// (wasm/, native/*-kernels, webgpu/*-kernels) are not exported.
export { initBackend, describeBackend, requestedBackend, BACKEND_CHOICES, WASM_HEAP_BUDGET_BYTES, WASM_HEAP_LIMIT_BYTES, type BackendChoice, type BackendDescription, type InitBackendOptions } from './init';
export { registerWasmTrainingKernels, unregisterWasmTrainingKernels, wasmTrainingKernelsRegistered, wasmTrainingKernelConfigs } from './training-kernels';
export { loadNativeAddon, nativeAddonPath, kernelsPackageRoot, nativeAddonStatus, resetNativeAddonCache, NATIVE_ADDON_FILE, type NativeAddon } from './native/addon';
export { NativeBackend, NATIVE_BACKEND, registerNativeBackend, nativeBackendRegistered } from './native/backend';
export { ArrayPool, DEFAULT_POOL_MIB } from './native/array-pool';
export { registerNativeKernels, unregisterNativeKernels, nativeKernelsInfo, type NativeKernelOptions } from './native/register';
export { registerWebGpuKernels, unregisterWebGpuKernels } from './webgpu/register';
export { findSwiftShaderIcd, testWebGpuIcd, type WebGpuAdapterDescription } from './webgpu/adapter';
