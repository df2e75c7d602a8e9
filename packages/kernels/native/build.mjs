#!/usr/bin/env node
// Compiles the busi native addon (src/*.c) with the system C compiler against a BLAS.
//   node packages/kernels/native/build.mjs [--if-possible] [--out <file>]
// Environment: CC (compiler, default cc), BUSI_BLAS_LIBS (link flags, default -lopenblas),
// BUSI_NATIVE_CFLAGS (extra flags), BUSI_NODE_INCLUDE (folder holding node_api.h).
// --if-possible: a missing compiler, header or BLAS is reported and the script exits 0, so a
// quick start never fails on a machine without a toolchain (busi then runs on plain wasm).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const ifPossible = args.includes('--if-possible');
const outIndex = args.indexOf('--out');
const out = path.resolve(outIndex >= 0 ? args[outIndex + 1] : path.join(here, 'build', 'busi_native.node'));

function give(message) {
  if (ifPossible) {
    console.log(`busi native: not built (${message}); busi runs on the wasm kernels alone`);
    process.exit(0);
  }
  console.error(`busi native: ${message}`);
  process.exit(1);
}

const includeCandidates = [
  process.env.BUSI_NODE_INCLUDE,
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const include = includeCandidates.find((d) => existsSync(path.join(d, 'node_api.h')));
if (!include) give(`node_api.h not found in ${includeCandidates.join(', ')} (set BUSI_NODE_INCLUDE)`);

const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) give(`C compiler '${cc}' not found (set CC)`);

const sources = readdirSync(path.join(here, 'src')).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(here, 'src', f));
const blas = (process.env.BUSI_BLAS_LIBS || '-lopenblas').split(/\s+/).filter(Boolean);
const extra = (process.env.BUSI_NATIVE_CFLAGS || '').split(/\s+/).filter(Boolean);
mkdirSync(path.dirname(out), { recursive: true });
// Compile to a temporary name and rename: a failed build never replaces a working addon.
const tmp = `${out.replace(/\.node$/, "")}.${process.pid}.tmp.node`;
const target = ['-march=native', ...extra];
const cmd = ['-O3', '-fno-trapping-math', '-fno-math-errno', '-fPIC', '-shared', '-fopenmp', '-Wall', `-I${include}`, ...target,
  ...sources, ...blas, '-lm', '-o', tmp];
try {
  execFileSync(cc, cmd, { stdio: ['ignore', 'inherit', 'inherit'] });
} catch {
  rmSync(tmp, { force: true });
  give(`compiling failed: ${cc} ${cmd.join(' ')} (is a BLAS installed? Debian/Ubuntu: apt-get install libopenblas-dev)`);
}
// Load it in a child process before installing it (a bad BLAS link shows up only at load time).
const check = spawnSync(process.execPath, ['-e', `const m = require(${JSON.stringify(tmp)}); if (typeof m.conv !== 'function') process.exit(2);`], { encoding: 'utf8' });
if (check.status !== 0) {
  rmSync(tmp, { force: true });
  give(`the compiled addon does not load: ${(check.stderr || '').trim().split('\n')[0]}`);
}
// The instruction-set extensions the binary may use: the feature macros the compiler defines for
// the target flags and not for its default target. The loader (src/native/cpu-features.ts) refuses
// the addon on a CPU that lacks one, instead of dying on an illegal instruction.
const macros = (flags) => {
  const r = spawnSync(cc, [...flags, '-dM', '-E', '-x', 'c', '-'], { input: '', encoding: 'utf8' });
  if (r.status !== 0) give(`cannot list the compiler's target macros: ${(r.stderr || '').trim().split('\n')[0]}`);
  return new Set([...r.stdout.matchAll(/^#define (__[A-Za-z0-9_]+__) 1$/gm)].map((m) => m[1]));
};
const baseline = macros([]);
const record = {
  arch: process.arch,
  platform: process.platform,
  targetMacros: [...macros(target)].filter((m) => !baseline.has(m)).sort(),
  targetFlags: target,
};
const recordFile = `${out.replace(/\.node$/, '')}.cpu.json`;
writeFileSync(`${recordFile}.${process.pid}.tmp`, `${JSON.stringify(record, null, 1)}\n`);
// Record first: a record newer than its addon describes this machine, which built both.
renameSync(`${recordFile}.${process.pid}.tmp`, recordFile);
renameSync(tmp, out);
console.log(`busi native: built ${out}`);
