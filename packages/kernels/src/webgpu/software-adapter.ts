// Telling a software rasteriser from a GPU. No Node imports: the browser demo uses it too.

/** The parts of a GPUAdapter read here (no DOM typings in this package). */
export interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; device?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** Whether an adapter is a software rasteriser, from what it reports. */
export function isSoftwareAdapter(adapter: GpuAdapterLike): boolean {
  if (adapter.isFallbackAdapter === true || adapter.info?.isFallbackAdapter === true) return true;
  const text = `${adapter.info?.architecture ?? ''} ${adapter.info?.description ?? ''} ${adapter.info?.device ?? ''}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/.test(text);
}
