import { initBackend, type BackendChoice } from '@busi/kernels';
import type { CliContext } from '../cli/args';
import { formatDuration } from '../report/progress';
import { failureCount, readAttempts } from './attempts';
import { startTaskProcess, type TaskProcess } from './child';
import { recordsDir, type Sweep } from './folder';
import type { SweepTask } from './plan';
import { allowedAttempts, runTaskWithRetries, type TaskOutcome } from './run-task';

/** Options of {@link runTasks}. */
export interface RunTasksOptions {
  /** Tasks at once: 1 runs them one after another in this process; more start one `busi` process per task. */
  jobs: number;
  /** Recorded with each attempt: 'local' or 'array'. */
  via: string;
  /** The `busi` script to start task processes from (required when jobs > 1). */
  script: string | null;
  /** Try tasks whose failures used up their retries again. */
  retryFailed?: boolean;
  /** Stops after the running tasks' current batch (they checkpoint). */
  signal?: AbortSignal;
  /** One line per task outcome goes to ctx.stdout. */
  ctx: CliContext;
}

/** One line for a task outcome. */
export function describeOutcome(o: TaskOutcome): string {
  const from = o.resumedFrom && (o.resumedFrom.epoch > 0 || o.resumedFrom.batch > 0) ? ` (resumed at epoch ${o.resumedFrom.epoch + 1}${o.resumedFrom.batch ? `, batch ${o.resumedFrom.batch + 1}` : ''})` : '';
  const what = {
    complete: `complete in ${formatDuration(o.seconds)}${from}`,
    skipped: 'finished earlier; skipped',
    failed: `attempt ${o.attempt ?? '?'} failed: ${o.error}`,
    interrupted: `stopped; resumable${from}`,
    'gave-up': `not tried: its failures used up the retries (last error: ${o.error ?? 'unknown'}); pass --retry-failed to try again`,
  }[o.outcome];
  return `task ${o.task}: ${what}`;
}

/**
 * Runs `tasks` of a sweep on this machine, `jobs` at a time, each retried after a failure until it
 * has failed `retries + 1` times. Resolves to each task's final outcome, in task order.
 */
export async function runTasks(sweep: Sweep, tasks: readonly SweepTask[], options: RunTasksOptions): Promise<TaskOutcome[]> {
  const say = (o: TaskOutcome) => options.ctx.stdout.write(`${describeOutcome(o)}\n`);
  if (options.jobs <= 1) {
    const backend = await initBackend({ backend: sweep.spec.train.backend as BackendChoice | undefined, log: false });
    const out: TaskOutcome[] = [];
    for (const task of tasks) {
      if (options.signal?.aborted) break;
      const o = await runTaskWithRetries(sweep, task, { via: options.via, backend: backend.backend, signal: options.signal, retryFailed: options.retryFailed }, say);
      say(o);
      out.push(o);
    }
    return out;
  }
  if (!options.script) throw new Error('running a sweep with more than one job needs the busi command line (busi sweep run --jobs N)');
  return runInProcesses(sweep, tasks, { ...options, script: options.script }, say);
}

async function runInProcesses(sweep: Sweep, tasks: readonly SweepTask[], options: RunTasksOptions & { script: string }, say: (o: TaskOutcome) => void): Promise<TaskOutcome[]> {
  const results = new Map<string, TaskOutcome>();
  const queue = [...tasks];
  const running = new Set<TaskProcess>();
  // Attempts left per task; the first start of a task lets the task process itself refuse one whose failures used up its retries.
  const left = new Map(tasks.map((t) => [t.id, options.retryFailed ? allowedAttempts(sweep) : allowedAttempts(sweep) - failureCount(readAttempts(recordsDir(sweep), t.id))]));
  const retried = new Set<string>();
  const onAbort = () => running.forEach((p) => p.stop());
  options.signal?.addEventListener('abort', onAbort);
  try {
    await new Promise<void>((resolve) => {
      const next = () => {
        while (running.size < options.jobs && queue.length && !options.signal?.aborted) {
          const task = queue.shift()!;
          const p = startTaskProcess(sweep, task, options.via, options.script, !!options.retryFailed || retried.has(task.id));
          running.add(p);
          void p.done.then((o) => {
            running.delete(p);
            left.set(task.id, (left.get(task.id) ?? 1) - 1);
            say(o);
            if (o.outcome === 'failed' && left.get(task.id)! > 0 && !options.signal?.aborted) {
              retried.add(task.id);
              queue.unshift(task);
            } else results.set(task.id, o);
            next();
          });
        }
        if (running.size === 0) resolve();
      };
      next();
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return tasks.filter((t) => results.has(t.id)).map((t) => results.get(t.id)!);
}
