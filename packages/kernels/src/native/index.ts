export { loadNativeAddon, nativeAddonPath, kernelsPackageRoot, nativeAddonStatus, resetNativeAddonCache, NATIVE_ADDON_FILE, type NativeAddon } from './addon';
export { registerNativeKernels, unregisterNativeKernels, nativeKernelsInfo, type NativeKernelOptions } from './register';
