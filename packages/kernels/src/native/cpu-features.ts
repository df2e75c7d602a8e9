import { existsSync, readFileSync } from 'node:fs';

/**
 * What `native/build.mjs` records next to the addon (`busi_native.cpu.json`): the machine it was
 * compiled for. The addon is compiled with `-march=native`, so its code may use every instruction
 * set extension of the build machine; loading it on a CPU without one of them would stop the
 * process on an illegal instruction, which no `try` can catch.
 */
export interface NativeBuildRecord {
  /** `process.arch` of the build (x64, arm64, ...). */
  arch: string;
  /** `process.platform` of the build. */
  platform: string;
  /**
   * Instruction-set macros the compiler defined for the build's target flags but not for its
   * default target (e.g. `__AVX2__`, `__FMA__`): the extensions the binary may use beyond the
   * baseline every CPU of the architecture has.
   */
  targetMacros: string[];
  /** The target flags they were read with (`-march=native` and any `BUSI_NATIVE_CFLAGS`). */
  targetFlags: string[];
}

/**
 * GCC/Clang x86 feature macros and the name Linux gives the same extension in `/proc/cpuinfo`.
 * Macros not listed (tuning and CPU-name macros such as `__tune_znver3__`, extensions newer than
 * this table, or ones whose cpuinfo name varies between kernels) are not checked.
 */
export const X86_MACRO_FLAGS: Readonly<Record<string, string>> = {
  __SSE3__: 'pni', __SSSE3__: 'ssse3', __SSE4_1__: 'sse4_1', __SSE4_2__: 'sse4_2', __SSE4A__: 'sse4a',
  __POPCNT__: 'popcnt', __LZCNT__: 'abm', __ABM__: 'abm', __MOVBE__: 'movbe', __CX16__: 'cx16', __LAHF_SAHF__: 'lahf_lm',
  __AVX__: 'avx', __AVX2__: 'avx2', __FMA__: 'fma', __FMA4__: 'fma4', __XOP__: 'xop', __F16C__: 'f16c',
  __BMI__: 'bmi1', __BMI2__: 'bmi2', __TBM__: 'tbm', __ADX__: 'adx', __AES__: 'aes', __PCLMUL__: 'pclmulqdq',
  __SHA__: 'sha_ni', __RDRND__: 'rdrand', __RDSEED__: 'rdseed', __FSGSBASE__: 'fsgsbase', __PRFCHW__: '3dnowprefetch',
  __XSAVE__: 'xsave', __XSAVEOPT__: 'xsaveopt', __XSAVEC__: 'xsavec', __XSAVES__: 'xsaves',
  __CLFLUSHOPT__: 'clflushopt', __CLWB__: 'clwb', __RTM__: 'rtm', __SERIALIZE__: 'serialize',
  __GFNI__: 'gfni', __VAES__: 'vaes', __VPCLMULQDQ__: 'vpclmulqdq', __AVXVNNI__: 'avx_vnni',
  __AVX512F__: 'avx512f', __AVX512CD__: 'avx512cd', __AVX512DQ__: 'avx512dq', __AVX512BW__: 'avx512bw',
  __AVX512VL__: 'avx512vl', __AVX512IFMA__: 'avx512ifma', __AVX512VBMI__: 'avx512vbmi',
  __AVX512VBMI2__: 'avx512_vbmi2', __AVX512VNNI__: 'avx512_vnni', __AVX512BITALG__: 'avx512_bitalg',
  __AVX512VPOPCNTDQ__: 'avx512_vpopcntdq', __AVX512BF16__: 'avx512_bf16', __AVX512FP16__: 'avx512_fp16',
  __AVX5124FMAPS__: 'avx512_4fmaps', __AVX5124VNNIW__: 'avx512_4vnniw',
  __CRC32__: 'sse4_2', __CLDEMOTE__: 'cldemote', __MOVDIRI__: 'movdiri', __MOVDIR64B__: 'movdir64b', __RDPID__: 'rdpid',
  __TSXLDTRK__: 'tsxldtrk', __WAITPKG__: 'waitpkg', __PKU__: 'pku', __SGX__: 'sgx', __PCONFIG__: 'pconfig',
  __WBNOINVD__: 'wbnoinvd', __RDPRU__: 'rdpru', __MWAITX__: 'mwaitx', __CLZERO__: 'clzero',
  __AMX_TILE__: 'amx_tile', __AMX_INT8__: 'amx_int8', __AMX_BF16__: 'amx_bf16',
};

/** The build record's file beside an addon file (`x/busi_native.node` → `x/busi_native.cpu.json`). */
export function buildRecordPath(addonFile: string): string {
  return `${addonFile.replace(/\.node$/, '')}.cpu.json`;
}

/** Reads the build record beside `addonFile`, or null when there is none (an addon built before records existed). */
export function readBuildRecord(addonFile: string): NativeBuildRecord | null {
  const file = buildRecordPath(addonFile);
  if (!existsSync(file)) return null;
  let record: NativeBuildRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as NativeBuildRecord;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}); rebuild the addon`);
  }
  if (typeof record.arch !== 'string' || !Array.isArray(record.targetMacros)) {
    throw new Error(`${file} lacks arch or targetMacros; rebuild the addon`);
  }
  return record;
}

/** The running CPU's feature flags from `/proc/cpuinfo` (Linux), or null where it cannot be read. */
export function runningCpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> | null {
  let text: string;
  try {
    text = readFileSync(cpuinfo, 'utf8');
  } catch {
    return null;
  }
  // x86 says "flags", arm64 "Features"; every core lists the same set, so the first line is enough.
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return line == null ? null : new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
}

/** The verdict of {@link checkCpuFeatures}. */
export interface CpuFeatureCheck {
  /** Whether the addon may be loaded. */
  ok: boolean;
  /** cpuinfo names of the extensions the build uses and this CPU lacks. */
  missing: string[];
  /** Why it may not be loaded (a predicate: "was compiled for ..."), or how far it was checked. */
  note: string;
}

/**
 * Compares what an addon was compiled for with the running CPU. `flags` null (no `/proc/cpuinfo`)
 * or a non-x86 build passes with a note saying the features were not verified.
 */
export function checkCpuFeatures(record: NativeBuildRecord, flags: Set<string> | null, arch = process.arch): CpuFeatureCheck {
  if (record.arch !== arch) {
    return { ok: false, missing: [], note: `was built for ${record.arch}, but this process runs on ${arch}` };
  }
  if (arch !== 'x64' && arch !== 'ia32') return { ok: true, missing: [], note: `CPU features not verified on ${arch}` };
  if (flags == null) return { ok: true, missing: [], note: 'CPU features not verified (no /proc/cpuinfo)' };
  const needed = [...new Set(record.targetMacros.map((m) => X86_MACRO_FLAGS[m]).filter((f): f is string => f != null))];
  const missing = needed.filter((f) => !flags.has(f)).sort();
  if (missing.length > 0) {
    return { ok: false, missing, note: `was compiled for a CPU with ${missing.join(', ')}, which this CPU lacks` };
  }
  return { ok: true, missing: [], note: `CPU has the ${needed.length} instruction-set extensions it was compiled for` };
}
