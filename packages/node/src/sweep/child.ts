import { spawn } from 'node:child_process';
import { endAttempt, readAttempts } from './attempts';
import { recordsDir, type Sweep } from './folder';
import type { SweepTask } from './plan';
import type { TaskOutcome } from './run-task';

let busiScript: string | null = null;

/** Registers the script of the running `busi` command line, so sweeps can start more of it (the bin entry calls this). */
export function setBusiScript(file: string): void {
  busiScript = file;
}

/** The `busi` script of this process, or null when busi runs as a library (then tasks run in this process). */
export function getBusiScript(): string | null {
  return busiScript;
}

/** Environment variable telling a task process how its sweep runs ('local' or 'queue'), for the attempt record. */
export const VIA_ENV = 'BUSI_SWEEP_VIA';

/** A running task process. */
export interface TaskProcess {
  /** Resolves once the process exited. */
  done: Promise<TaskOutcome>;
  /** Asks it to stop after the current batch (it saves a checkpoint). */
  stop(): void;
  pid: number | undefined;
}

/**
 * Runs one attempt of `task` in a new `busi sweep run --task` process. The child stops (after
 * saving a checkpoint) when this process dies, since its IPC channel closes; one that is killed
 * outright has its attempt recorded as failed, with the signal, so the sweep's retries bound it.
 */
export function startTaskProcess(sweep: Sweep, task: SweepTask, via: string, script: string, retryFailed = false): TaskProcess {
  const args = [script, 'sweep', 'run', '--out', sweep.dir, '--task', task.id, '--one-attempt', ...(retryFailed ? ['--retry-failed'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, [VIA_ENV]: via } });
  let reported: TaskOutcome | null = null;
  let stderr = '';
  child.on('message', (m) => {
    reported = m as TaskOutcome;
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const t0 = Date.now();
  const done = new Promise<TaskOutcome>((resolve) => {
    child.on('exit', (code, signal) => {
      if (reported) return resolve(reported);
      const error = signal ? `task process ${child.pid} was killed by ${signal}` : `task process ${child.pid} exited with code ${code}${stderr ? `: ${stderr.trim()}` : ''}`;
      // Its attempt is still 'running': close it as failed so that a crash loop (e.g. out of memory) stays bounded.
      const open = readAttempts(recordsDir(sweep), task.id).attempts.filter((a) => a.outcome === 'running' && a.worker.endsWith(`:${child.pid}`));
      for (const a of open) endAttempt(recordsDir(sweep), task.id, a.attempt, 'failed', error);
      resolve({ task: task.id, outcome: 'failed', error, seconds: (Date.now() - t0) / 1000 });
    });
    child.on('error', (e) => resolve({ task: task.id, outcome: 'failed', error: `could not start a task process: ${e.message}`, seconds: 0 }));
  });
  return { done, stop: () => child.kill('SIGINT'), pid: child.pid };
}
