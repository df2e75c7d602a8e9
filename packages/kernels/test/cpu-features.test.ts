import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadNativeAddon, nativeAddonPath, nativeAddonStatus, resetNativeAddonCache } from '../src';
import { buildRecordPath, checkCpuFeatures, readBuildRecord, runningCpuFlags, X86_MACRO_FLAGS, type NativeBuildRecord } from '../src/native/cpu-features';

const record = (targetMacros: string[], arch = 'x64'): NativeBuildRecord => ({ arch, platform: 'linux', targetMacros, targetFlags: ['-march=native'] });

describe('checkCpuFeatures', () => {
  const haswell = new Set(['sse2', 'pni', 'ssse3', 'sse4_1', 'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'bmi1', 'bmi2']);

  test('passes when the CPU has every extension the build targets, ignoring tuning macros', () => {
    const c = checkCpuFeatures(record(['__AVX2__', '__FMA__', '__SSE4_2__', '__tune_haswell__', '__haswell__']), haswell, 'x64');
    expect(c).toEqual({ ok: true, missing: [], note: expect.stringContaining('3 instruction-set extensions') });
  });

  test('refuses a build for AVX-512 on an AVX2 CPU, naming the missing extensions in cpuinfo terms', () => {
    const c = checkCpuFeatures(record(['__AVX2__', '__AVX512F__', '__AVX512VL__', '__AVX512VNNI__']), haswell, 'x64');
    expect(c.ok).toBe(false);
    expect(c.missing).toEqual(['avx512_vnni', 'avx512f', 'avx512vl']);
    expect(c.note).toMatch(/compiled for a CPU with avx512_vnni, avx512f, avx512vl, which this CPU lacks/);
  });

  test('refuses another architecture; passes unverified without cpuinfo or off x86', () => {
    expect(checkCpuFeatures(record(['__AVX2__']), haswell, 'arm64')).toMatchObject({ ok: false, note: expect.stringMatching(/built for x64, but this process runs on arm64/) });
    expect(checkCpuFeatures(record(['__AVX2__']), null, 'x64')).toMatchObject({ ok: true, note: expect.stringMatching(/not verified/) });
    expect(checkCpuFeatures(record(['__ARM_FEATURE_SVE__'], 'arm64'), new Set(['fp']), 'arm64')).toMatchObject({ ok: true, note: expect.stringMatching(/not verified on arm64/) });
  });

  test('reads the flags line of a cpuinfo file, and null where there is none', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-cpuinfo-'));
    const file = path.join(dir, 'cpuinfo');
    fs.writeFileSync(file, 'processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx2 fma\n');
    expect([...runningCpuFlags(file)!]).toEqual(['fpu', 'sse2', 'avx2', 'fma']);
    expect(runningCpuFlags(path.join(dir, 'absent'))).toBeNull();
    fs.rmSync(dir, { recursive: true });
  });

  test('a malformed build record is an error naming the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-record-'));
    const addon = path.join(dir, 'busi_native.node');
    expect(readBuildRecord(addon)).toBeNull();
    fs.writeFileSync(buildRecordPath(addon), '{"arch": "x64"}');
    expect(() => readBuildRecord(addon)).toThrow(/busi_native\.cpu\.json lacks arch or targetMacros/);
    fs.writeFileSync(buildRecordPath(addon), 'not json');
    expect(() => readBuildRecord(addon)).toThrow(/busi_native\.cpu\.json is not valid JSON/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('the CPU check when the addon loads', () => {
  const savedPath = process.env.BUSI_NATIVE_PATH;
  afterEach(() => {
    if (savedPath === undefined) delete process.env.BUSI_NATIVE_PATH;
    else process.env.BUSI_NATIVE_PATH = savedPath;
    resetNativeAddonCache();
  });

  const built = fs.existsSync(nativeAddonPath());
  if (!built) console.log(`cpu-features: load tests skipped, the native addon is not built (${nativeAddonPath()}; npm run build:native)`);
  const whenBuilt = built ? test : test.skip;

  whenBuilt('the build records its target beside the addon, and this CPU passes it', () => {
    const rec = readBuildRecord(nativeAddonPath());
    expect(rec).not.toBeNull();
    expect(rec!.arch).toBe(process.arch);
    expect(rec!.targetFlags).toContain('-march=native');
    if (process.arch === 'x64') expect(rec!.targetMacros.some((m) => m in X86_MACRO_FLAGS)).toBe(true);
    expect(checkCpuFeatures(rec!, runningCpuFlags()).ok).toBe(true);
    expect(nativeAddonStatus().reason).toMatch(/^loaded from .* \((CPU has the \d+ instruction-set extensions|CPU features not verified)/);
  });

  whenBuilt('a build copied from a newer CPU is refused before loading, and initBackend falls back to the wasm kernels with the reason', async () => {
    // The real addon beside a record of a CPU with AVX-512 4FMAPS (Xeon Phi only): loading it here would work, so only the check refuses it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-copied-'));
    const copy = path.join(dir, 'busi_native.node');
    fs.copyFileSync(nativeAddonPath(), copy);
    const rec = readBuildRecord(nativeAddonPath())!;
    fs.writeFileSync(buildRecordPath(copy), JSON.stringify({ ...rec, targetMacros: [...rec.targetMacros, '__AVX5124FMAPS__'] }));
    process.env.BUSI_NATIVE_PATH = copy;
    resetNativeAddonCache();
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(loadNativeAddon()).toBeNull();
      expect(nativeAddonStatus().reason).toMatch(/not loaded: .*busi_native\.node was compiled for a CPU with avx512_4fmaps, which this CPU lacks; rebuild it/);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/avx512_4fmaps.*Using the wasm kernels/));
      const d = await initBackend({ backend: 'wasm', log: false });
      expect(d.nativeThreads).toBeNull();
      expect(d.summary).toMatch(/native kernels off \(not loaded: .*avx512_4fmaps/);
      // The wasm kernels still train: a conv gradient runs.
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 2, 4]) as tf.Tensor4D, 1, 'same')))(tf.ones([1, 5, 5, 2]));
      expect(g.shape).toEqual([1, 5, 5, 2]);
      await expect(initBackend({ backend: 'wasm', native: true, log: false })).rejects.toThrow(/avx512_4fmaps/);
    } finally {
      warn.mockRestore();
      fs.rmSync(dir, { recursive: true });
    }
  });
});
