import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { initBackend } from '@busi/kernels';
import { runCli } from '../../src/cli/main';

/** A stream capturing what a command writes. */
export class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs `busi <argv>` in `cwd`; returns the exit code and the captured output. */
export async function cli(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { stdout, stderr, cwd });
  return { code, out: stdout.text, err: stderr.text };
}

/**
 * A suite's starting point: the wasm backend, a fresh temporary folder (`busi-<prefix>-…`) and a
 * SMALL_RUN trained in `<tmp>/<name>` with `trainArgs` added; throws with the CLI's error if it fails.
 */
export async function trainSmallRun(prefix: string, name: string, trainArgs: string[]): Promise<{ tmp: string; run: string; out: string }> {
  await initBackend({ backend: 'wasm', log: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `busi-${prefix}-`));
  const run = path.join(tmp, name);
  const r = await cli(['train', '-o', run, ...SMALL_RUN, ...trainArgs], tmp);
  if (r.code !== 0) throw new Error(r.err);
  return { tmp, run, out: r.out };
}

/** A small, fast run on synthetic data: slim ResNet, slim U-Net, 32x32, no augmentation unless asked. */
export const SMALL_RUN = [
  '--synthetic', '24',
  '--encoder', 'slim-resnet',
  '--decoder-channels', '16,16,8,8,8',
  '--size', '32',
  '--batch-size', '4',
  '--lr', '0.003',
  '--dropout', '0.2',
  '--backend', 'wasm',
  '--quiet',
];

export function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function ls(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
}

export { path };

/** Every file under `dir` (hidden ones too) → sha256 of its bytes, keyed by the path relative to `dir`. */
export function treeHash(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** The files of `before` that are missing or different in `after` (what a command lost or overwrote). */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([f, h]) => after.get(f) !== h).map(([f]) => f);
}
