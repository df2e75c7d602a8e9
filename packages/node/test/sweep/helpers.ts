import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The repository root (task processes start here, so the bundle finds node_modules and the native addon). */
export const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** A small sweep over the tiny test model (slim ResNet, 32x32 synthetic images): 1 model × 2 λ × 2 seeds. */
export const SMALL_SWEEP = {
  models: [['unet', 'slim-resnet']],
  lambdas: [0.3, 0.7],
  seeds: [0, 1],
  train: { synthetic: 24, decoderChannels: '16,16,8,8,8', size: 32, epochs: 3, batchSize: 4, lr: 0.003, dropout: 0.2, backend: 'wasm' },
};

/** Bundles the busi command line from the TypeScript sources into `dir` (see bundle-cli.cjs); returns the file. */
export function bundleCli(dir: string): string {
  const out = path.join(dir, 'busi-cli.cjs');
  const r = spawnSync(process.execPath, [path.join(__dirname, 'bundle-cli.cjs'), out], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(out)) throw new Error(`bundling the CLI failed:\n${r.stdout}\n${r.stderr}`);
  return out;
}

/** A bundle folder inside node_modules, where the bundle's bare imports resolve. */
export function bundleDir(): string {
  const base = path.join(ROOT, 'node_modules', '.cache', 'busi-sweep-test');
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, 'cli-'));
}

/** A process of the bundled CLI with its output collected. */
export interface BusiProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves to the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Starts `node <cli> ...args` in the repository root; `detached` gives it its own process group (to kill it with its task processes). */
export function startBusi(cli: string, args: string[], env: NodeJS.ProcessEnv = {}, detached = false): BusiProcess {
  const child = spawn(process.execPath, [cli, ...args], { cwd: ROOT, env: { ...process.env, ...env }, detached, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => text, exited };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether Debian's redis-server is installed (.ci/run installs it). */
export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts a throwaway redis-server on 127.0.0.1 (no persistence); resolves once it accepts connections. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(100);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns a value (not undefined), or fails after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
