import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliContext } from '../cli/args';
import { evaluateFinishedRun } from '../runs/evaluate-run';
import { readRunConfig, trainRun } from '../runs/train-run';
import { runVersions } from '../version';
import { beginAttempt, endAttempt, failureCount, readAttempts } from './attempts';
import { SWEEP_FILES, recordsDir, sweepTaskState, taskDir, taskRunConfig, type Sweep } from './folder';
import type { SweepTask } from './plan';
import { resumePoint, type ResumePoint } from './task-state';

/** How one call to {@link runTask} ended. */
export interface TaskOutcome {
  /** The task's id. */
  task: string;
  /** 'skipped': finished earlier; 'gave-up': its failures had used up the sweep's retries. */
  outcome: 'complete' | 'skipped' | 'failed' | 'interrupted' | 'gave-up';
  /** Attempt number (none for skipped and gave-up). */
  attempt?: number;
  /** Epoch and batch the attempt continued from. */
  resumedFrom?: ResumePoint;
  /** The error of a failed attempt, or the last failure's when it gave up. */
  error?: string;
  /** Wall-clock seconds this call took. */
  seconds: number;
}

/** Options of {@link runTask}. */
export interface RunTaskOptions {
  /** Recorded with the attempt: 'local', 'array' or 'queue'. */
  via: string;
  /** Backend name (the backend is initialised by the caller). */
  backend: string;
  /** Stops training after the current batch (a checkpoint is saved; the attempt is 'interrupted'). */
  signal?: AbortSignal;
  /** Try a task whose failures used up its retries again. */
  retryFailed?: boolean;
  /** Train afresh, replacing the task's run folder, even when it finished or could resume. */
  restart?: boolean;
  /**
   * Training output goes here (progress bars unless `quiet`) instead of the task's log, and a
   * failure's stack is left to the caller: for a sweep run in the foreground (`busi grid-lambda`).
   */
  output?: {
    /** Where the training output goes. */
    ctx: CliContext;
    /** No progress bars. */
    quiet: boolean;
  };
}

/** The attempts a sweep allows a task. */
export function allowedAttempts(sweep: Sweep): number {
  return sweep.spec.retries + 1;
}

/**
 * One attempt at a task in this process: skipped when finished, else trained (resumed from its
 * checkpoint when its run folder exists) and, when the layout finishes with an evaluation,
 * evaluated on its report part, as `busi train` does. Training output goes to `<sweep>/logs/<task>.log`; the attempt is recorded in
 * `<sweep>/attempts/<task>.json` with its error if it fails.
 */
export async function runTask(sweep: Sweep, task: SweepTask, options: RunTaskOptions): Promise<TaskOutcome> {
  const t0 = Date.now();
  const seconds = () => (Date.now() - t0) / 1000;
  const dir = taskDir(sweep, task);
  const records = recordsDir(sweep);
  const state = options.restart ? 'new' : sweepTaskState(sweep, task);
  if (state === 'complete') return { task: task.id, outcome: 'skipped', seconds: seconds() };
  const failures = failureCount(readAttempts(records, task.id));
  if (failures >= allowedAttempts(sweep) && !options.retryFailed) {
    return { task: task.id, outcome: 'gave-up', error: lastError(sweep, task), seconds: seconds() };
  }
  const resumedFrom = state === 'resumable' ? resumePoint(dir) : { epoch: 0, batch: 0 };
  const attempt = beginAttempt(records, task.id, options.via, resumedFrom);
  const log = options.output ? { ctx: options.output.ctx, close: async () => undefined } : openLog(path.join(records, SWEEP_FILES.logs, `${task.id}.log`), sweep.dir);
  try {
    if (!options.output) log.ctx.stdout.write(`\n== attempt ${attempt} of task ${task.id} (${options.via}, pid ${process.pid}, ${new Date().toISOString()})\n`);
    const resume = state === 'resumable';
    const config = resume ? readRunConfig(dir) : { ...taskRunConfig(sweep, task, log.ctx), backend: options.backend, versions: await runVersions() };
    // The run folder stays locked until its evaluation is written.
    const session = { resume, force: !!options.restart, quiet: options.output?.quiet ?? true, backend: options.backend, signal: options.signal, keepLock: true };
    const result = await trainRun(config, dir, session, log.ctx);
    try {
      if (result.status.status !== 'complete') {
        endAttempt(records, task.id, attempt, 'interrupted');
        return { task: task.id, outcome: 'interrupted', attempt, resumedFrom, seconds: seconds() };
      }
      if (sweep.layout.finish === 'evaluation') await evaluateFinishedRun(dir, config, result, log.ctx);
    } finally {
      result.lock?.release();
    }
    endAttempt(records, task.id, attempt, 'complete');
    return { task: task.id, outcome: 'complete', attempt, resumedFrom, seconds: seconds() };
  } catch (e) {
    const error = (e as Error).message ?? String(e);
    if (!options.output) log.ctx.stderr.write(`error: ${(e as Error).stack ?? error}\n`);
    endAttempt(records, task.id, attempt, 'failed', error);
    return { task: task.id, outcome: 'failed', attempt, resumedFrom, error, seconds: seconds() };
  } finally {
    await log.close();
  }
}

/** The error of the task's last failed attempt, if any. */
export function lastError(sweep: Sweep, task: SweepTask): string | undefined {
  return readAttempts(recordsDir(sweep), task.id).attempts.filter((a) => a.outcome === 'failed').at(-1)?.error;
}

/**
 * {@link runTask} until the task completes, is interrupted, or has failed as often as the sweep
 * allows (failures of earlier runs count, unless `retryFailed`).
 */
export async function runTaskWithRetries(sweep: Sweep, task: SweepTask, options: RunTaskOptions, onAttempt?: (o: TaskOutcome) => void): Promise<TaskOutcome> {
  const budget = options.retryFailed ? allowedAttempts(sweep) : allowedAttempts(sweep) - failureCount(readAttempts(recordsDir(sweep), task.id));
  let outcome: TaskOutcome = await runTask(sweep, task, options);
  for (let tries = 1; outcome.outcome === 'failed' && tries < budget && !options.signal?.aborted; tries++) {
    onAttempt?.(outcome);
    outcome = await runTask(sweep, task, { ...options, retryFailed: true });
  }
  return outcome;
}

/** A context writing to an appended log file. */
function openLog(file: string, cwd: string): { ctx: CliContext; close(): Promise<void> } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const stream = fs.createWriteStream(file, { flags: 'a' });
  return {
    ctx: { stdout: stream, stderr: stream, cwd },
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}
