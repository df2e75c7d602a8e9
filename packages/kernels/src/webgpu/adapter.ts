// Finding a WebGPU adapter: the browser's or Deno's navigator.gpu, or in Node the `webgpu` npm
// package (Dawn, prebuilt), optionally on a software Vulkan driver for tests.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
// The attribute is what Deno (and Node's own ESM loader) require of a JSON import.
import swiftShaderIcds from './swiftshader-icds.json' with { type: 'json' };
import { isSoftwareAdapter, type GpuAdapterLike } from './software-adapter';

/** What the active WebGPU adapter says about itself. */
export interface WebGpuAdapterDescription {
  /** Adapter vendor (`nvidia`, `amd`, `intel`, `apple`, `google` for SwiftShader, ...). */
  vendor: string;
  /** GPU architecture or family (`ampere`, `rdna-3`, `swiftshader`, ...), often empty on drivers that do not say. */
  architecture: string;
  /** Driver description where the implementation gives one. */
  description: string;
  /** Whether this is a software rasteriser (SwiftShader, llvmpipe, lavapipe, WARP): correct but very slow. */
  software: boolean;
  /** Where navigator.gpu came from: 'navigator' (browser, Deno) or the `webgpu` npm package. */
  source: 'navigator' | 'webgpu';
  /** The Vulkan ICD file that was forced for this process (the software-adapter recipe), if any. */
  icd?: string;
}

interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/**
 * Where Debian's and Google's Chromium packages install SwiftShader's Vulkan ICD: Dawn accepts
 * SwiftShader, while Mesa's lavapipe (Debian 12's 22.3) lacks features Dawn requires. (A JSON
 * file, because jest.config.cjs reads the same list.)
 */
export const SWIFTSHADER_ICD_CANDIDATES: readonly string[] = swiftShaderIcds;

/** The first SwiftShader Vulkan ICD installed on this machine, or null. */
export function findSwiftShaderIcd(): string | null {
  return SWIFTSHADER_ICD_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/**
 * The Vulkan ICD file that `BUSI_WEBGPU_ICD` (or the option) asks for: a path to an ICD json, or
 * `swiftshader` for the first of {@link SWIFTSHADER_ICD_CANDIDATES}. Unset: null (the system's
 * drivers). A path that does not exist, or `swiftshader` where none is installed, is an error.
 */
export function resolveWebGpuIcd(raw: string | undefined = process.env.BUSI_WEBGPU_ICD): string | null {
  const value = raw?.trim();
  if (!value) return null;
  if (value.toLowerCase() === 'swiftshader') {
    const found = findSwiftShaderIcd();
    if (found == null) {
      throw new Error(`BUSI_WEBGPU_ICD=swiftshader: no SwiftShader Vulkan ICD found (looked for ${SWIFTSHADER_ICD_CANDIDATES.join(', ')}; Debian's chromium package ships one)`);
    }
    return found;
  }
  const file = path.resolve(value);
  if (!existsSync(file)) throw new Error(`BUSI_WEBGPU_ICD: Vulkan ICD file '${value}' does not exist (expected a path to an ICD .json, or 'swiftshader')`);
  return file;
}

/**
 * Imports an optional package by a name the bundler and typechecker cannot see. Under jest's CJS
 * sandbox import() is unavailable; the `webgpu` package's native module is then required directly.
 */
async function loadDawn(): Promise<DawnModule> {
  const dynamicImport = new Function('n', 'return import(n)') as (n: string) => Promise<DawnModule>;
  try {
    return await dynamicImport('webgpu');
  } catch (e) {
    const message = String((e as Error).message ?? e);
    if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(message)) throw e;
    // The package is ESM around one native module: load that module the CommonJS way.
    const req = typeof require === 'function' ? require : createRequire(path.join(process.cwd(), 'index.js'));
    const root = path.dirname(req.resolve('webgpu/package.json'));
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    return req(path.join(root, 'dist', `${process.platform}-${arch}`, 'dawn.node')) as DawnModule;
  }
}

let nodeGpu: { gpu: GpuLike; icd: string | null } | null = null;

/**
 * navigator.gpu for this process: the host's (browser, Deno), else one made from the `webgpu`
 * package, with that package's WebGPU globals (GPUBufferUsage, ...) installed on globalThis as
 * tfjs-backend-webgpu expects. `icd` forces a Vulkan driver (set before Dawn starts: the Vulkan
 * loader reads VK_ICD_FILENAMES once).
 */
export async function ensureNavigatorGpu(icd: string | null): Promise<{ gpu: GpuLike; source: 'navigator' | 'webgpu'; icd: string | null }> {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (nodeGpu == null && g.navigator?.gpu != null) return { gpu: g.navigator.gpu, source: 'navigator', icd: null };
  if (nodeGpu != null) {
    if (icd != null && nodeGpu.icd !== icd) {
      throw new Error(`initBackend: WebGPU already started with ${nodeGpu.icd ?? 'the system Vulkan drivers'}; cannot switch to the ICD '${icd}' in the same process`);
    }
    return { ...nodeGpu, source: 'webgpu' };
  }
  if (icd != null) {
    process.env.VK_ICD_FILENAMES = icd;
    // Dawn's Vulkan backend wants a runtime directory; a headless CI job often has none.
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = os.tmpdir();
  }
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  if (g.navigator == null) g.navigator = { gpu };
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  nodeGpu = { gpu, icd };
  return { gpu, source: 'webgpu', icd };
}

/**
 * The adapter tfjs-backend-webgpu will get (it asks for 'high-performance'), described; null when
 * the implementation offers none (no driver Dawn accepts).
 */
export async function probeWebGpuAdapter(icd: string | null): Promise<WebGpuAdapterDescription | null> {
  const { gpu, source } = await ensureNavigatorGpu(icd);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter == null) return null;
  return {
    vendor: adapter.info?.vendor || 'unknown vendor',
    architecture: adapter.info?.architecture ?? '',
    description: adapter.info?.description ?? '',
    software: isSoftwareAdapter(adapter),
    source,
    ...(icd != null ? { icd } : {}),
  };
}

/**
 * The Vulkan ICD the tests (and `npm run bench:gpu -- --software`) use for webgpu: `BUSI_WEBGPU_ICD`
 * when set, else an installed SwiftShader (so that CI runs the same adapter everywhere), else
 * undefined (the system's drivers).
 */
export function testWebGpuIcd(): string | undefined {
  const set = process.env.BUSI_WEBGPU_ICD?.trim();
  if (set) return set;
  return findSwiftShaderIcd() ?? undefined;
}
