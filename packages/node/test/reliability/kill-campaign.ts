import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '@busi/core';

/**
 * The kill campaign: a tiny training run is killed with SIGKILL at random moments (seeded) and
 * resumed each time, with some double faults (a checkpoint swap cut short, then the resuming
 * process killed too); the final weights must equal an uninterrupted run's byte for byte. Used by
 * `npm run kill-test` (20+ kills, 3 double faults) and by a 3-kill version in npm test.
 */

/** Options of {@link killCampaign}. */
export interface KillCampaignOptions {
  /** SIGKILLs at random moments. */
  kills: number;
  /** Double faults: a swap left half done, then the resume killed early. */
  doubleFaults: number;
  /** Epochs of the tiny run. */
  epochs: number;
  seed: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What the campaign did. */
export interface KillCampaignResult {
  kills: number;
  doubleFaults: number;
  /** Process starts in the interrupted run (first start, resumes). */
  starts: number;
  /** Kills that hit while a checkpoint folder was being staged (a `.checkpoint.tmp-*` existed). */
  killsDuringSave: number;
  /** Whether last-model/weights.bin equals the uninterrupted run's. */
  identical: boolean;
  referenceHash: string;
  resumedHash: string;
  /** Seconds of the uninterrupted run (start to exit). */
  referenceSeconds: number;
}

/** The repository root: the nearest folder above this file (or its bundle in .bench/build) with the monorepo's package.json. */
function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'busi-monorepo') return dir;
    if (path.dirname(dir) === dir) throw new Error(`kill campaign: no busi-monorepo package.json above '${start}'`);
  }
}

const root = findRoot(__dirname);

/** The CLI from the sources, through the benchmark runner (esbuild bundles it on each start). */
const CLI = [path.join(root, 'packages/node/bench/run.mjs'), path.join(root, 'packages/node/src/cli.ts')];

function runArgs(out: string, epochs: number): string[] {
  return [
    'train', '-o', out, '--synthetic', '24', '--encoder', 'slim-resnet', '--decoder-channels', '16,16,8,8,8', '--size', '32',
    '--batch-size', '4', '--micro-batch', '2', '--lr', '0.003', '--dropout', '0.2', '--epochs', String(epochs),
    '--backend', 'wasm', '--quiet', '--no-report',
  ];
}

/** Starts the CLI from the sources in a child process; `done` resolves with its exit code. */
export function startCli(args: string[]): { child: ChildProcess; done: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, done, output: () => text };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hashFile(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Runs the campaign in a temporary folder (removed afterwards). */
export async function killCampaign(o: KillCampaignOptions): Promise<KillCampaignResult> {
  const log = o.log ?? (() => {});
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-kill-'));
  try {
    const ref = path.join(tmp, 'reference');
    const t0 = Date.now();
    const r = startCli(runArgs(ref, o.epochs));
    // Start-up (bundling, backend, data) lasts until the run folder appears.
    let startupMs = 0;
    const watch = (async () => {
      while (!fs.existsSync(path.join(ref, 'config.json'))) await sleep(20);
      startupMs = Date.now() - t0;
    })();
    if ((await r.done) !== 0) throw new Error(`the uninterrupted run failed: ${r.output()}`);
    await watch;
    const referenceSeconds = (Date.now() - t0) / 1000;
    // Each start trains for a random share of about one kill's worth of the run's training time:
    // a resume on a machine less loaded than the reference run then still meets all its kills
    // before it finishes (with two kills' worth, one in CI's rehearsal finished after 2 of 3).
    const slice = Math.max(300, Math.round((referenceSeconds * 1000 - startupMs) / (o.kills + 1)));
    const referenceHash = hashFile(path.join(ref, 'last-model', 'weights.bin'));
    log(`uninterrupted run: ${referenceSeconds.toFixed(1)} s (${(startupMs / 1000).toFixed(1)} s start-up), last-model ${referenceHash.slice(0, 12)}`);

    const run = path.join(tmp, 'killed');
    const rng = new Rng(o.seed);
    let kills = 0;
    let doubles = 0;
    let starts = 0;
    let killsDuringSave = 0;
    // Double faults are spread over the campaign, each after a real kill.
    const doubleAt = Array.from({ length: o.doubleFaults }, (_, i) => Math.floor(((i + 1) * o.kills) / (o.doubleFaults + 1)));
    for (let guard = 0; guard < o.kills + 4 * o.doubleFaults + 200; guard++) {
      const isRun = fs.existsSync(path.join(run, 'config.json'));
      if (isRun && JSON.parse(fs.readFileSync(path.join(run, 'status.json'), 'utf8')).status === 'complete') break;
      if (isRun && doubles < o.doubleFaults && kills >= doubleAt[doubles] && fs.existsSync(path.join(run, 'checkpoint'))) {
        // Fault 1: a save killed between moving the old checkpoint aside and moving the new one in.
        fs.renameSync(path.join(run, 'checkpoint'), path.join(run, `.checkpoint.replaced-df${doubles}`));
        fs.mkdirSync(path.join(run, `.checkpoint.tmp-df${doubles}`, 'model'), { recursive: true });
        // Fault 2: the resuming process killed while it recovers.
        const p = startCli(isRun ? [...runArgs(run, o.epochs), '--resume'] : runArgs(run, o.epochs));
        starts++;
        await sleep(150 + rng.nextInt(900));
        p.child.kill('SIGKILL');
        await p.done;
        doubles++;
        log(`double fault ${doubles}: checkpoint swap cut short, then the resume killed`);
        continue;
      }
      const p = startCli(isRun ? [...runArgs(run, o.epochs), '--resume'] : runArgs(run, o.epochs));
      starts++;
      if (kills >= o.kills && doubles < o.doubleFaults) {
        // Double faults still due: let this start write a checkpoint, then kill it so one can follow.
        const ready = async () => {
          while (!fs.existsSync(path.join(run, 'checkpoint'))) await sleep(50);
        };
        const exited = await Promise.race([p.done.then(() => true), ready().then(() => false)]);
        if (!exited) {
          p.child.kill('SIGKILL');
          await p.done;
        }
        continue;
      }
      if (kills >= o.kills) {
        const code = await p.done;
        if (code !== 0) throw new Error(`the final resume failed (exit ${code}): ${p.output()}`);
        continue;
      }
      // A random moment after the start-up, within two kills' share of the training time: the
      // kill lands mid-epoch, in validation or in a checkpoint save, and the run progresses.
      const wait = startupMs + rng.nextInt(slice);
      const exited = await Promise.race([p.done.then(() => true), sleep(wait).then(() => false)]);
      if (exited) {
        const code = await p.done;
        if (code !== 0) throw new Error(`a resume failed (exit ${code}) after ${kills} kills: ${p.output()}`);
        continue;
      }
      const saving = fs.existsSync(run) && fs.readdirSync(run).some((f) => f.startsWith('.checkpoint.tmp-') && !f.includes('-df'));
      p.child.kill('SIGKILL');
      await p.done;
      kills++;
      if (saving) killsDuringSave++;
      const st = fs.existsSync(path.join(run, 'status.json')) ? JSON.parse(fs.readFileSync(path.join(run, 'status.json'), 'utf8')) : null;
      log(`kill ${kills} after ${wait} ms${saving ? ' (during a checkpoint save)' : ''}: ${st ? `${st.epochsDone} epochs done` : 'no run folder yet'}`);
    }
    const final = path.join(run, 'last-model', 'weights.bin');
    const resumedHash = fs.existsSync(final) ? hashFile(final) : 'missing';
    return { kills, doubleFaults: doubles, starts, killsDuringSave, identical: resumedHash === referenceHash, referenceHash, resumedHash, referenceSeconds };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
