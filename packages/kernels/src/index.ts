export { registerWasmTrainingKernels, unregisterWasmTrainingKernels, wasmTrainingKernelsRegistered, wasmTrainingKernelConfigs } from './training-kernels';
export { initBackend, describeBackend, type BackendChoice, type BackendDescription, type InitBackendOptions } from './init';
export * from './native';
