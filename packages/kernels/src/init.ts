import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, wasmTrainingKernelsRegistered } from './training-kernels';
import { loadNativeAddon, nativeAddonStatus } from './native/addon';
import { NATIVE_BACKEND, registerNativeBackend } from './native/backend';
import { nativeKernelsInfo, registerNativeKernels, unregisterNativeKernels } from './native/register';
import { probeWebGpuAdapter, resolveWebGpuIcd, type WebGpuAdapterDescription } from './webgpu/adapter';
import { registerWebGpuKernels } from './webgpu/register';

/**
 * A backend choice: 'tensorflow' means libtensorflow through tfjs-node-gpu or tfjs-node; 'webgpu'
 * means tfjs-backend-webgpu on the host's navigator.gpu or, in Node, the `webgpu` package (Dawn);
 * 'native' the busi native backend (JS-memory tensors, heavy kernels in the native addon; needs the addon).
 */
export type BackendChoice = 'tensorflow' | 'webgpu' | 'native' | 'wasm' | 'cpu' | 'auto';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Backend to use; defaults to the `BUSI_BACKEND` environment variable, then 'auto'. */
  backend?: BackendChoice;
  /** Print the chosen backend with console.info (default true). */
  log?: boolean;
  /**
   * Use the busi native addon (system BLAS on every core) when it is built: as the 'native'
   * backend, and on wasm under the wasm backend's heavy kernels. 'auto' (default) uses it if
   * present, false never (auto then skips the 'native' backend), true requires it (an error if
   * it is missing). Defaults to the `BUSI_NATIVE` environment variable (`0`/`off`, `1`/`on`, `auto`).
   */
  native?: boolean | 'auto';
  /** Threads for the native kernels; default every core (`BUSI_NATIVE_THREADS` if set). */
  nativeThreads?: number;
  /**
   * In Node, the Vulkan driver Dawn uses for webgpu: a path to a Vulkan ICD .json, or
   * 'swiftshader' to find Chromium's SwiftShader (a software adapter: for tests, not training).
   * Defaults to the `BUSI_WEBGPU_ICD` environment variable; unset, the system's drivers.
   */
  webgpuIcd?: string;
  /**
   * Bytes the workload's tensors need at their peak, when the caller knows (for a training run,
   * `estimateTrainingMemory` in `@busi/node`). Under 'auto', a need above
   * {@link WASM_HEAP_BUDGET_BYTES} passes wasm over for the 'native' backend (tensors in JS memory),
   * since the wasm heap would run out; without the native addon wasm is kept and the summary warns.
   */
  memoryNeedBytes?: number;
}

/** The most one wasm instance can address: its heap holds every tensor of the wasm backend. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 2 ** 30;

/**
 * The largest tensor working set the automatic choice trusts to wasm. The heap also holds the
 * allocator's fragmentation and the kernels' scratch buffers; against that, busi's training-step
 * estimate (the tracked tensor peak) ran about 20 % above the measured heap peaks of Unet /
 * ResNet-50 and Unet / EfficientNet-B4 at 448² (docs/performance.md), so 85 % leaves room both ways.
 */
export const WASM_HEAP_BUDGET_BYTES = Math.round(0.85 * WASM_HEAP_LIMIT_BYTES);

/** What {@link initBackend} chose and why. */
export interface BackendDescription {
  /** tfjs backend name now active ('tensorflow', 'native', 'wasm', 'cpu', ...). */
  backend: string;
  /** The npm package providing it. */
  provider: string;
  /** Whether the busi wasm gradient kernels are registered (needed to train on wasm). */
  trainingKernels: boolean;
  /** Whether the wasm binary in use has SIMD (wasm only). */
  simd?: boolean;
  /** Whether wasm runs multi-threaded (always false in Node.js). */
  threads?: boolean;
  /** On native and wasm: whether the native BLAS kernels are in effect, with their thread count (null when not). */
  nativeThreads?: number | null;
  /** On native and wasm: where the native addon was loaded from, or why it is not in use. */
  nativeStatus?: string;
  /** On webgpu: the adapter in use. */
  adapter?: WebGpuAdapterDescription;
  /** Candidates tried before this one, with the reason each was skipped. */
  skipped: Array<{
    /** Package or backend name, e.g. `@tensorflow/tfjs-node`. */
    backend: string;
    /** Why it was passed over, for the user: 'not installed', 'not loadable (…)', 'failed to initialise'. */
    reason: string;
  }>;
  /** One-line human-readable summary. */
  summary: string;
}

/** Every value {@link InitBackendOptions.backend} (and the CLI's `--backend`) accepts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];
const NATIVE_PROVIDER = '@busi/kernels (tfjs-backend-cpu tensors + busi native addon)';
let last: BackendDescription | null = null;

/** The backend `initBackend({ backend: opt })` is asked for: `opt`, else `BUSI_BACKEND`, else 'auto' (checked, lower-cased). */
export function requestedBackend(opt?: BackendChoice): BackendChoice {
  const raw = opt ?? (process.env.BUSI_BACKEND as BackendChoice | undefined) ?? 'auto';
  const choice = raw.trim().toLowerCase() as BackendChoice;
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`initBackend: unknown backend '${raw}' (expected one of ${BACKEND_CHOICES.join(', ')})`);
  }
  return choice;
}

/**
 * Imports an optional package by a name the bundler and typechecker cannot see, so that neither
 * requires it to be installed.
 */
async function importOptional(name: string): Promise<unknown> {
  const dynamicImport = new Function('n', 'return import(n)') as (n: string) => Promise<unknown>;
  try {
    return await dynamicImport(name);
  } catch (e) {
    // Some hosts (jest's CJS sandbox) cannot evaluate import(); require is then the loader.
    if (typeof require === 'function') return require(name);
    throw e;
  }
}

/** Why an optional package could not be loaded, in a few words. */
function loadFailure(e: unknown): string {
  const message = String((e as Error).message ?? e).split('\n')[0];
  // A missing package reads "Cannot find module" (or, inside a bundle, "Dynamic require of … is not supported").
  const missing = /Cannot find (module|package)|Dynamic require of|MODULE_NOT_FOUND/.test(message);
  return missing ? 'not installed' : `not loadable (${message})`;
}

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS_WEBGPU = '@tensorflow/tfjs-backend-webgpu';

async function tryTensorflow(skipped: BackendDescription['skipped'], packages: string[]): Promise<string | null> {
  for (const pkg of packages) {
    try {
      await importOptional(pkg);
      if (tf.findBackend('tensorflow') == null && tf.findBackendFactory('tensorflow') == null) {
        skipped.push({ backend: pkg, reason: 'loaded but registered no tensorflow backend (different tfjs-core instance?)' });
        continue;
      }
      if (await tf.setBackend('tensorflow')) return pkg;
      skipped.push({ backend: pkg, reason: 'tensorflow backend failed to initialise' });
    } catch (e) {
      skipped.push({ backend: pkg, reason: loadFailure(e) });
    }
  }
  return null;
}

/**
 * Starts tfjs-backend-webgpu when an adapter exists (on auto, only a hardware one: a software
 * rasteriser is slower than wasm) and registers busi's WGSL kernels on it. Returns the adapter,
 * or null with the reason pushed to `skipped`.
 */
async function tryWebGpu(skipped: BackendDescription['skipped'], options: InitBackendOptions, forced: boolean): Promise<WebGpuAdapterDescription | null> {
  const icd = resolveWebGpuIcd(options.webgpuIcd ?? process.env.BUSI_WEBGPU_ICD);
  let adapter: WebGpuAdapterDescription | null;
  try {
    adapter = await probeWebGpuAdapter(icd);
  } catch (e) {
    skipped.push({ backend: 'webgpu', reason: `webgpu package ${loadFailure(e)}` });
    return null;
  }
  if (adapter == null) {
    skipped.push({ backend: 'webgpu', reason: `no WebGPU adapter${icd ? ` on the Vulkan ICD ${icd}` : ''} (Dawn needs Vulkan, Metal or D3D12; see docs/gpu.md)` });
    return null;
  }
  if (adapter.software && !forced) {
    skipped.push({ backend: 'webgpu', reason: `only a software adapter (${adapterLabel(adapter)}); force it with backend 'webgpu'` });
    return null;
  }
  try {
    await importOptional(TFJS_WEBGPU);
  } catch (e) {
    skipped.push({ backend: TFJS_WEBGPU, reason: loadFailure(e) });
    return null;
  }
  if (tf.findBackendFactory('webgpu') == null && tf.findBackend('webgpu') == null) {
    skipped.push({ backend: TFJS_WEBGPU, reason: 'loaded but registered no webgpu backend (imported before navigator.gpu existed, or a different tfjs-core instance?)' });
    return null;
  }
  registerWebGpuKernels();
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    skipped.push({ backend: 'webgpu', reason: `failed to initialise (${String((e as Error).message ?? e).split('\n')[0]})` });
    return null;
  }
  if (!ok) {
    skipped.push({ backend: 'webgpu', reason: 'failed to initialise' });
    return null;
  }
  return adapter;
}

/** `vendor/architecture` (or the description), with "software" where it is one. */
function adapterLabel(a: WebGpuAdapterDescription): string {
  const name = [a.vendor, a.architecture || a.description].filter(Boolean).join('/');
  return a.software ? `${name}, software` : name;
}

async function describeWasm(): Promise<Pick<BackendDescription, 'simd' | 'threads'>> {
  return {
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
  };
}

/**
 * Selects the fastest available tfjs backend for training and inference: libtensorflow with
 * CUDA (tfjs-node-gpu), else WebGPU on a hardware adapter (tfjs-backend-webgpu and, in Node, the
 * `webgpu` package: optional peers), else libtensorflow on the CPU (tfjs-node), else wasm with
 * the busi training kernels, else the pure-JS cpu backend. The busi 'native' backend (tensors in
 * JS memory, so no 4 GiB wasm ceiling; needs the native addon) is chosen when asked for, or under 'auto'
 * when `options.memoryNeedBytes` is more than the wasm heap holds. `options.backend` or `BUSI_BACKEND`
 * forces one (a forced 'webgpu' also accepts a software adapter); a forced backend that cannot
 * start is an error rather than a silent fallback.
 * @example
 * ```ts
 * import { initBackend } from '@busi/node';
 * const chosen = await initBackend(); // tfjs-node-gpu → webgpu (hardware) → tfjs-node → wasm + busi kernels → cpu
 * console.log(chosen.backend); // e.g. "wasm"
 * await initBackend({ backend: 'native' }); // no 4 GiB ceiling (needs the native addon); or BUSI_BACKEND=native
 * await initBackend({ backend: 'wasm' }); // or BUSI_BACKEND=wasm
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendDescription> {
  const choice = requestedBackend(options.backend);
  const skipped: BackendDescription['skipped'] = [];
  let provider: string | null = null;
  let backend = '';

  let adapter: WebGpuAdapterDescription | null = null;
  const unavailable = (name: string): Error =>
    new Error(`initBackend: backend '${name}' requested but unavailable: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);

  // A CUDA build of libtensorflow first, then a hardware WebGPU adapter, then libtensorflow on the CPU.
  if (choice === 'tensorflow' || choice === 'auto') {
    provider = await tryTensorflow(skipped, choice === 'auto' ? [TFJS_NODE_GPU] : [TFJS_NODE_GPU, TFJS_NODE]);
    if (provider != null) backend = 'tensorflow';
    else if (choice === 'tensorflow') throw unavailable('tensorflow');
  }
  if (provider == null && (choice === 'webgpu' || choice === 'auto')) {
    adapter = await tryWebGpu(skipped, options, choice === 'webgpu');
    if (adapter != null) {
      provider = TFJS_WEBGPU;
      backend = 'webgpu';
    } else if (choice === 'webgpu') throw unavailable('webgpu');
  }
  if (provider == null && choice === 'auto') {
    provider = await tryTensorflow(skipped, [TFJS_NODE]);
    if (provider != null) backend = 'tensorflow';
  }
  // Not in auto yet: measured slower than wasm + native kernels for a training step (the cpu
  // backend's Transpose and the garbage collection of large JS arrays; docs/performance.md).
  if (provider == null && choice === 'native') {
    if (await tryNative(options, choice === 'native', skipped)) {
      provider = NATIVE_PROVIDER;
      backend = NATIVE_BACKEND;
    }
  }
  // ...except where the workload would not fit the wasm heap: native is slower, wasm would abort.
  let memoryNote = '';
  const need = options.memoryNeedBytes;
  if (provider == null && choice === 'auto' && need != null && need > WASM_HEAP_BUDGET_BYTES) {
    const why = `needs about ${gib(need)} of tensors, more than the wasm heap holds (${gib(WASM_HEAP_LIMIT_BYTES)}, ${gib(WASM_HEAP_BUDGET_BYTES)} usable)`;
    if (await tryNative(options, false, skipped)) {
      provider = NATIVE_PROVIDER;
      backend = NATIVE_BACKEND;
      skipped.push({ backend: 'wasm', reason: `the workload ${why}` });
      memoryNote = ` — chosen over wasm: the workload ${why}`;
    } else {
      const reason = skipped.find((s) => s.backend === NATIVE_BACKEND)?.reason ?? 'unavailable';
      memoryNote = ` — warning: the workload ${why}, and the native backend is unavailable (${reason}): it may run out of memory; build the addon (busi build-native) or lower the micro-batch`;
    }
  }
  if (provider == null && (choice === 'wasm' || choice === 'auto')) {
    registerWasmTrainingKernels();
    applyNative(options);
    let ok = false;
    try {
      ok = await tf.setBackend('wasm');
    } catch (e) {
      skipped.push({ backend: 'wasm', reason: String((e as Error).message ?? e) });
    }
    if (ok) {
      provider = '@tensorflow/tfjs-backend-wasm';
      backend = 'wasm';
    } else if (choice === 'wasm') {
      throw new Error('initBackend: backend wasm requested but failed to initialise');
    } else if (skipped.every((s) => s.backend !== 'wasm')) {
      skipped.push({ backend: 'wasm', reason: 'failed to initialise' });
    }
  }
  if (provider == null) {
    if (!(await tf.setBackend('cpu'))) throw new Error('initBackend: even the cpu backend failed to initialise');
    provider = '@tensorflow/tfjs-backend-cpu';
    backend = 'cpu';
  }
  await tf.ready();

  const extra: Partial<BackendDescription> = backend === 'wasm' ? { ...(await describeWasm()), ...describeNative() } : backend === NATIVE_BACKEND ? describeNative(true) : {};
  const trainingKernels = backend !== 'wasm' || wasmTrainingKernelsRegistered();
  const nativeNote = backend === NATIVE_BACKEND
    ? `, native kernels on ${extra.nativeThreads} thread${extra.nativeThreads! > 1 ? 's' : ''}`
    : backend === 'wasm'
    ? (extra.nativeThreads != null ? `, native BLAS kernels on ${extra.nativeThreads} thread${extra.nativeThreads > 1 ? 's' : ''}` : `, native kernels off${nativeRefusal(extra.nativeStatus)}`)
    : '';
  const simdNote = backend === 'wasm' ? `, SIMD ${extra.simd ? 'on' : 'off'}, threads ${extra.threads ? 'on' : 'off'}${nativeNote}` : nativeNote;
  const adapterNote = adapter != null ? `, adapter ${adapterLabel(adapter)}` : '';
  const summary = `busi backend: ${backend} (${provider}${simdNote}${adapterNote})` +
    (choice !== 'auto' ? ` [forced: ${choice}]` : '') +
    (backend === 'cpu' ? ' — pure JS, slow; install @tensorflow/tfjs-node for real training' : '') +
    (adapter?.software ? ' — a software rasteriser: correct but far slower than wasm, for tests only' : '') +
    memoryNote;
  last = { backend, provider, trainingKernels, ...extra, ...(adapter != null ? { adapter } : {}), skipped, summary };
  if (options.log ?? true) console.info(summary);
  return last;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function nativeChoice(opt: InitBackendOptions['native']): boolean | 'auto' {
  if (opt != null) return opt;
  const raw = (process.env.BUSI_NATIVE ?? 'auto').trim().toLowerCase();
  if (raw === '0' || raw === 'off' || raw === 'false') return false;
  if (raw === '1' || raw === 'on' || raw === 'true') return true;
  if (raw === 'auto' || raw === '') return 'auto';
  throw new Error(`initBackend: BUSI_NATIVE must be 0/off, 1/on or auto, got '${process.env.BUSI_NATIVE}'`);
}

function nativeThreadsOption(opt: number | undefined): number | undefined {
  if (opt != null) return opt;
  const raw = process.env.BUSI_NATIVE_THREADS;
  if (raw == null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`initBackend: BUSI_NATIVE_THREADS must be a positive integer, got '${raw}'`);
  return n;
}

/**
 * Starts the 'native' backend unless the options turn the addon off. `required` (backend 'native'
 * forced): a missing addon or `native: false` is an error. Otherwise the reason it was skipped is
 * recorded.
 */
async function tryNative(options: InitBackendOptions, required: boolean, skipped: BackendDescription['skipped']): Promise<boolean> {
  const want = nativeChoice(options.native);
  if (want === false) {
    if (required) throw new Error(`initBackend: backend 'native' requested with the native addon turned off (native: false or BUSI_NATIVE=0)`);
    skipped.push({ backend: NATIVE_BACKEND, reason: 'native addon turned off' });
    return false;
  }
  if (!registerNativeBackend()) {
    const reason = nativeAddonStatus().reason;
    if (required) throw new Error(`initBackend: backend 'native' requested but the addon is ${reason}`);
    skipped.push({ backend: NATIVE_BACKEND, reason: `addon ${reason}` });
    return false;
  }
  setNativeThreads(options);
  if (await tf.setBackend(NATIVE_BACKEND)) return true;
  if (required) throw new Error('initBackend: backend native requested but failed to initialise');
  skipped.push({ backend: NATIVE_BACKEND, reason: 'failed to initialise' });
  return false;
}

function setNativeThreads(options: InitBackendOptions): void {
  const threads = nativeThreadsOption(options.nativeThreads);
  if (threads == null) return;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`initBackend: nativeThreads must be a positive integer, got ${threads}`);
  loadNativeAddon()?.setThreads(threads);
}

/** Registers (or removes) the native kernels on wasm as the options ask. */
function applyNative(options: InitBackendOptions): void {
  const want = nativeChoice(options.native);
  if (want === false) {
    unregisterNativeKernels();
    return;
  }
  const threads = nativeThreadsOption(options.nativeThreads);
  const ok = registerNativeKernels(threads != null ? { threads } : {});
  if (!ok && want === true) throw new Error(`initBackend: native kernels requested but the addon is ${nativeAddonStatus().reason}`);
}

/** ` (why)` when an addon exists but was refused or failed to load (a missing build is the normal case and is not repeated). */
function nativeRefusal(status: string | undefined): string {
  return status != null && /^(not loaded|failed to load)/.test(status) ? ` (${status})` : '';
}

function describeNative(nativeBackend = false): Pick<BackendDescription, 'nativeThreads' | 'nativeStatus'> {
  const info = nativeKernelsInfo();
  return { nativeThreads: info.registered || nativeBackend ? info.threads : null, nativeStatus: info.status };
}

/**
 * Describes the active backend: the result of the last {@link initBackend} when it is still
 * active, otherwise what tfjs reports now.
 */
export function describeBackend(): BackendDescription {
  const current = tf.getBackend();
  if (last != null && last.backend === current) return last;
  const provider = current === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : current === 'cpu' ? '@tensorflow/tfjs-backend-cpu' : current === 'webgpu' ? TFJS_WEBGPU : current === NATIVE_BACKEND ? NATIVE_PROVIDER : 'unknown';
  return {
    backend: current,
    provider,
    trainingKernels: current !== 'wasm' || wasmTrainingKernelsRegistered(),
    skipped: [],
    summary: `busi backend: ${current} (${provider}; not selected by initBackend)`,
  };
}
