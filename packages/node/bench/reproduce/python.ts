/**
 * Runs the PyTorch reference side of a script: Debian's /usr/bin/python3 with the reference sources on
 * PYTHONPATH, as ../shared/reference-tools/README.md sets them up (BUSI_REF_PYTHONPATH, or the
 * PYTHONPATH already exported). The reference tools folder is passed so our scripts can import its fill.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest folder above this file whose package.json is the monorepo's (works from sources and from bench bundles). */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'busi-monorepo') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no busi repository above ${__dirname}`);
  }
}

/** This folder in the repository (a bundle runs from .bench/build, so not `__dirname`). */
export const REPRODUCE_DIR = path.join(repoRoot(), 'packages', 'node', 'bench', 'reproduce');

/** ../shared/reference-tools beside the repository, or BUSI_REFERENCE_TOOLS. */
export const REFERENCE_TOOLS = process.env.BUSI_REFERENCE_TOOLS ?? path.resolve(repoRoot(), '..', 'shared', 'reference-tools');

/** Python interpreter of the reference (Debian's torch lives in /usr/bin/python3's dist-packages). */
export const REFERENCE_PYTHON = process.env.BUSI_REFERENCE_PYTHON ?? '/usr/bin/python3';

/** Whether the reference can run here: the interpreter imports torch and segmentation_models_pytorch. */
export function referenceAvailable(): { ok: boolean; why: string } {
  if (!fs.existsSync(REFERENCE_TOOLS)) return { ok: false, why: `no reference tools at ${REFERENCE_TOOLS}` };
  const probe = spawnSync(REFERENCE_PYTHON, ['-c', 'import torch, segmentation_models_pytorch'], { encoding: 'utf8', env: pythonEnv() });
  if (probe.status !== 0) return { ok: false, why: `${REFERENCE_PYTHON} cannot import torch and smp (${(probe.stderr || String(probe.error)).trim().split('\n').pop()})` };
  return { ok: true, why: '' };
}

function pythonEnv(): NodeJS.ProcessEnv {
  const extra = process.env.BUSI_REF_PYTHONPATH;
  return { ...process.env, ...(extra ? { PYTHONPATH: extra } : {}), PYTHONWARNINGS: 'ignore' };
}

/** Arguments our scripts get first: `--reference-tools <dir>` (to import its fill); the reference tools' own scripts do not take it. */
function leadingArgs(referenceToolsArg: boolean | undefined): string[] {
  return referenceToolsArg === false ? [] : ['--reference-tools', REFERENCE_TOOLS];
}

/** Runs a Python script with the reference environment, its output on this process's; throws on failure. */
export function runPython(script: string, args: string[], options: { referenceToolsArg?: boolean } = {}): void {
  const r = spawnSync(REFERENCE_PYTHON, [script, ...leadingArgs(options.referenceToolsArg), ...args], { stdio: 'inherit', env: pythonEnv() });
  if (r.status !== 0) throw new Error(`${path.basename(script)} failed (exit ${r.status ?? r.signal})`);
}

/**
 * Runs one of our Python scripts with the reference environment and returns what it printed (a
 * failure is the caller's to report: a benchmark case that fails is a row, not the end of the run).
 */
export function runPythonCaptured(script: string, args: string[]): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(REFERENCE_PYTHON, [script, ...leadingArgs(true), ...args], { encoding: 'utf8', env: pythonEnv(), maxBuffer: 64 * 2 ** 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}
