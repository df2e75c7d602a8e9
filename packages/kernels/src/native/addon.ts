import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { checkCpuFeatures, readBuildRecord, runningCpuFlags } from './cpu-features';

/** The functions of the compiled busi native addon (C sources in `packages/kernels/native/src/`, Node-API surface in `addon.c`). */
export interface NativeAddon {
  /**
   * One convolution on NHWC activations and HWIO filters. Dense: `kind` 0 forward (a = x,
   * b = filter, out = y), 1 input gradient (a = dy, b = filter, out = dx), 2 filter gradient
   * (a = x, b = dy, out = dW). Depthwise with multiplier 1 (co = ci): 3, 4, 5 likewise. 6: max-pool
   * gradient (a = dy, b = pooled input, out = dx). `geometry` holds
   * [n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, top, left]. `groups` (dense kinds only, default 1)
   * makes it a grouped convolution with a [kh, kw, ci/groups, co] filter.
   */
  conv(kind: 0 | 1 | 2 | 3 | 4 | 5 | 6, a: Float32Array, b: Float32Array, out: Float32Array, geometry: Int32Array, groups?: number): void;
  /** Batched sgemm; `dims` = [batchA, batchB, m, n, k, transposeA, transposeB] (a batch of 1 broadcasts). */
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** Threads for BLAS and the patch loops; 0 restores the default (every core). */
  setThreads(threads: number): void;
  /** The thread count in effect. */
  getThreads(): number;
  /** Concatenates float32 arrays of `rows` rows each along their last axis into `out`. */
  concatLast(inputs: Float32Array[], out: Float32Array, rows: number): void;
  /** Elementwise `y = relu(x)` (kind 0) or `sigmoid(x)` (kind 1). */
  unary(kind: 0 | 1, x: Float32Array, y: Float32Array): void;
  /** `out[o, m, i] = big[o, m, i] + small[o, i]` (kind 0) or `×` (kind 1); `dims` = [outer, mid, inner]. */
  binary(kind: 0 | 1, big: Float32Array, small: Float32Array, out: Float32Array, dims: Int32Array): void;
  /**
   * `out = big − small`, `big / small` or `(big − small)²` (kind 0, 1, 2; `reversed` 1 swaps the
   * operands), small broadcast as in {@link NativeAddon.binary} or one value; double arithmetic rounded once.
   */
  binaryOp(kind: number, reversed: number, big: Float32Array, small: Float32Array, out: Float32Array, dims: Int32Array): void;
  /**
   * `out = a (op) b` under any broadcast: op 0 add, 1 multiply, 2 sub, 3 div, 4 squared difference;
   * `dims` = the output's `rank` dimensions, then a's and b's strides per dimension (0: broadcast).
   */
  broadcastOp(kind: number, rank: number, a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array): void;
  /** `y = f(x)` for f = sqrt, rsqrt, square, neg, abs, reciprocal, step (kind 0 to 6; step gives `alpha` at or below zero). */
  unaryOp(kind: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** `out[o, i] = scale · Σ_m x[o, m, i]` for x viewed as [outer, mid, inner]; `dims` = [outer, mid, inner]. */
  reduceMiddle(x: Float32Array, out: Float32Array, dims: Int32Array, scale: number): void;
  /** Inference batch norm of x [m, c]: `y = (x − mean)·scale/√(variance + eps) + offset` (null offset 0, null scale 1). */
  bnInference(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, y: Float32Array, eps: number): void;
  /** Training-mode batch norm of x [m, c] (c = gamma.length): writes y, the batch mean, biased variance and 1/sqrt(variance + eps). */
  bnForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, variance: Float32Array, invStd: Float32Array, eps: number): void;
  /** Its backward pass: writes dx, dgamma (sum of dy times the normalised x) and dbeta (sum of dy). */
  bnBackward(dy: Float32Array, x: Float32Array, mean: Float32Array, invStd: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  /**
   * Output maps of at least this many pixels run convolutions with 1, 8, 16 or 32 output channels
   * as direct loops instead of im2col + GEMM (0: never; default 1024); returns the previous value. For tests and benchmarks.
   */
  setDirectMinPixels(pixels: number): number;
  /** Scratch floats per block of patches (0 restores the 32 MiB default); returns the previous value. For tests. */
  setBlockFloats(floats: number): number;
}

/** File name of the compiled addon. */
export const NATIVE_ADDON_FILE = 'busi_native.node';

/**
 * Where the addon is looked for: `BUSI_NATIVE_PATH` if set, else `native/build/busi_native.node`
 * inside the installed `@busi/kernels` package (where `npm run build:native` / `busi build-native` put it).
 */
export function nativeAddonPath(): string {
  const fromEnv = process.env.BUSI_NATIVE_PATH;
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(kernelsPackageRoot(), 'native', 'build', NATIVE_ADDON_FILE);
}

/** The `@busi/kernels` package folder (found through module resolution, so it works from src, dist or a bundle). */
export function kernelsPackageRoot(): string {
  // A bundle run from elsewhere (examples/run-from-source.mjs gives its ESM bundles a `require`) resolves from its own place.
  // (The id is a variable so that bundlers leave the lookup to run time.)
  const id = '@busi/kernels/package.json';
  if (typeof require === 'function') {
    try {
      return path.dirname(require.resolve(id));
    } catch {
      // not resolvable from here; try the bases below
    }
  }
  const bases = [typeof __filename === 'string' ? __filename : '', path.join(process.cwd(), 'noop.js')].filter(Boolean);
  for (const base of bases) {
    try {
      return path.dirname(createRequire(base).resolve(id));
    } catch {
      // not resolvable from here; try the next base
    }
  }
  const local = path.join(process.cwd(), 'packages', 'kernels');
  if (existsSync(path.join(local, 'package.json'))) return local;
  throw new Error('busi native: cannot locate the @busi/kernels package folder');
}

let cached: { addon: NativeAddon | null; reason: string } | null = null;

/**
 * Loads the native addon once. Returns null (and records why, see {@link nativeAddonStatus}) when
 * it has not been built or fails to load.
 */
export function loadNativeAddon(): NativeAddon | null {
  if (cached) return cached.addon;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    cached = { addon: null, reason: `not built (no ${file}; run \`npm run build:native\` or \`busi build-native\`)` };
    return null;
  }
  // Checked before loading: code compiled for extensions this CPU lacks would stop the process on
  // an illegal instruction (possibly while loading), which no try/catch can turn into a fallback.
  let cpuNote: string;
  try {
    const record = readBuildRecord(file);
    if (process.env.BUSI_NATIVE_CPU_CHECK === '0') {
      cpuNote = 'CPU check skipped (BUSI_NATIVE_CPU_CHECK=0)';
    } else if (record == null) {
      cpuNote = 'CPU features not verified (no build record beside it; rebuild to record them)';
    } else {
      const check = checkCpuFeatures(record, runningCpuFlags());
      if (!check.ok) {
        const reason = `not loaded: ${file} ${check.note}; rebuild it on this machine (\`npm run build:native\` or \`busi build-native\`)`;
        console.warn(`busi native: ${reason}. Using the wasm kernels.`);
        cached = { addon: null, reason };
        return null;
      }
      cpuNote = check.note;
    }
  } catch (e) {
    cached = { addon: null, reason: `not loaded: ${(e as Error).message}` };
    return null;
  }
  // libgomp reads this once, when the addon loads it. Its default (spinning) keeps idle OpenMP
  // threads busy after every patch loop, starving the BLAS threads on the same cores: passive
  // waiting measured 1.5-2x faster convolutions on 2 cores.
  if (process.env.OMP_WAIT_POLICY == null) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  try {
    const addon = createRequire(file)(file) as NativeAddon;
    for (const fn of ['conv', 'matmul', 'concatLast', 'unary', 'binary', 'binaryOp', 'unaryOp', 'broadcastOp', 'reduceMiddle', 'bnInference', 'bnForward', 'bnBackward', 'setThreads', 'getThreads', 'setBlockFloats', 'setDirectMinPixels'] as const) {
      if (typeof addon[fn] !== 'function') throw new Error(`${file} has no function ${fn}; rebuild it`);
    }
    cached = { addon, reason: `loaded from ${file} (${cpuNote})` };
  } catch (e) {
    cached = { addon: null, reason: `failed to load ${file}: ${(e as Error).message}` };
  }
  return cached.addon;
}

/** Whether the addon is loaded, and where from or why not. */
export function nativeAddonStatus(): {
  /** Whether the compiled addon is loaded in this process. */
  loaded: boolean;
  /** What happened, for the user: where it was loaded from, or why not (not built, other CPU, load error). */
  reason: string;
} {
  loadNativeAddon();
  return { loaded: cached!.addon != null, reason: cached!.reason };
}

/** Forgets the cached load result (after a build, or in tests that change BUSI_NATIVE_PATH). */
export function resetNativeAddonCache(): void {
  cached = null;
}
