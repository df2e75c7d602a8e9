import { initBackend, testWebGpuIcd, type BackendDescription } from '@busi/kernels';

/**
 * For a test file on the webgpu backend: starts it before the tests (on SwiftShader where it is
 * installed, or BUSI_WEBGPU_ICD) and returns `maybe`, a `test` that skips with a message saying why
 * when no adapter could be made, and `backend()`, the started backend.
 */
export function webgpuTests(): { maybe: (name: string, fn: () => Promise<void>) => void; backend: () => BackendDescription } {
  let webgpu: BackendDescription | null = null;
  let why = '';
  beforeAll(async () => {
    try {
      webgpu = await initBackend({ backend: 'webgpu', log: false, webgpuIcd: testWebGpuIcd() });
    } catch (e) {
      why = (e as Error).message.split('\n')[0];
    }
  });
  return {
    maybe(name, fn) {
      test(name, async () => {
        if (webgpu == null) {
          console.warn(`skipped '${name}': no WebGPU adapter could be made here (${why}); install chromium (SwiftShader) or set BUSI_WEBGPU_ICD`);
          return;
        }
        await fn();
      });
    },
    backend: () => webgpu!,
  };
}
