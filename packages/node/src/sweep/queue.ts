import type { Job, Queue, Worker } from 'bullmq';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext } from '../cli/args';
import { startTaskProcess, type TaskProcess } from './child';
import { sweepTaskState, type Sweep } from './folder';
import { describeOutcome } from './local-runner';
import type { SweepTask } from './plan';
import { allowedAttempts, runTask, type TaskOutcome } from './run-task';
import { pluralize } from '@busi/core';

// BullMQ on Redis: one job per task (job id = task id) in a queue named after the sweep, so workers
// of several sweeps can share one Redis. Loaded on demand: the rest of busi does not need it.

/** A job's payload. */
export interface SweepJobData {
  /** Sweep id; a worker serves only the sweep in its --out folder. */
  sweep: string;
  /** The task's id within the sweep. */
  task: string;
}

/** The queue of a sweep: `busi-sweep-<id>` unless named. */
export function sweepQueueName(sweep: Sweep, name?: string): string {
  return name ?? `busi-sweep-${sweep.id}`;
}

/** Checks a `redis://` or `rediss://` URL and returns it. */
export function checkQueueUrl(url: string | undefined, cmd: string): string {
  if (!url) throw new UsageError(`busi ${cmd}: --queue redis://HOST:PORT is required`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`busi ${cmd}: --queue must be a URL such as redis://127.0.0.1:6379; got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`busi ${cmd}: --queue must be a redis:// or rediss:// URL; got '${url}'`);
  return url;
}

async function bullmq(): Promise<typeof import('bullmq')> {
  return import('bullmq');
}

/** What {@link enqueueSweep} did. */
export interface EnqueueSummary {
  /** Ids of the tasks added to the queue now. */
  added: string[];
  /** Finished earlier (their run folder is complete). */
  skipped: string[];
  /** Already waiting, delayed or running. */
  queued: string[];
  /** Failed jobs put back (with `retryFailed`). */
  retried: string[];
  /** Failed jobs left failed. */
  failed: string[];
}

/**
 * Adds one job per unfinished task to the sweep's queue, each allowed `retries + 1` attempts.
 * Enqueueing again adds only what is missing, so it is safe to repeat.
 */
export async function enqueueSweep(sweep: Sweep, tasks: readonly SweepTask[], options: { url: string; name?: string; retryFailed?: boolean }): Promise<EnqueueSummary> {
  const { Queue } = await bullmq();
  const queue: Queue<SweepJobData> = new Queue(sweepQueueName(sweep, options.name), { connection: { url: options.url } });
  const summary: EnqueueSummary = { added: [], skipped: [], queued: [], retried: [], failed: [] };
  try {
    for (const task of tasks) {
      if (sweepTaskState(sweep, task) === 'complete') {
        summary.skipped.push(task.id);
        continue;
      }
      const job = await queue.getJob(task.id);
      const state = job ? await job.getState() : null;
      if (job && state === 'failed') {
        if (options.retryFailed) {
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          summary.retried.push(task.id);
        } else summary.failed.push(task.id);
        continue;
      }
      if (job && state !== 'completed' && state !== 'unknown') {
        summary.queued.push(task.id);
        continue;
      }
      // A completed job whose run folder is not complete (removed by hand) runs again.
      if (job) await job.remove();
      await queue.add(task.id, { sweep: sweep.id, task: task.id }, {
        jobId: task.id,
        attempts: allowedAttempts(sweep),
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
      summary.added.push(task.id);
    }
  } finally {
    await queue.close();
  }
  return summary;
}

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** The Redis server holding the queue, `redis://HOST:PORT` or `rediss://...`. */
  url: string;
  /** Queue name (default: the sweep's). */
  name?: string;
  /** Tasks at once. */
  concurrency: number;
  /**
   * Seconds a job stays locked without a heartbeat: after a worker dies, its task goes back to the
   * queue within about twice this. Heartbeats come from this process, not the training process.
   */
  lockSeconds: number;
  /** Exit once the queue holds no waiting, delayed or running job. */
  exitWhenIdle: boolean;
  /** The `busi` script task processes start from; null runs tasks in this process. */
  script: string | null;
  /** Stopping: running tasks checkpoint and go back to the queue, then the worker exits. */
  signal?: AbortSignal;
  /** Where the worker's own lines go (a task's training output goes to its log). */
  ctx: CliContext;
}

/** What a worker did before it exited. */
export interface WorkerSummary {
  /** One entry per job the worker settled (complete, skipped, failed, gave up), in the order they ended; interrupted ones went back to the queue. */
  outcomes: TaskOutcome[];
}

/**
 * Takes the sweep's jobs one by one (`concurrency` at a time) and runs each task (in a task
 * process when `script` is given). A task that fails is thrown back to BullMQ, which retries it
 * until its attempts are used up; a task stopped by the signal goes back to the queue without
 * spending an attempt.
 */
export async function runWorker(sweep: Sweep, options: WorkerOptions): Promise<WorkerSummary> {
  const { Queue, Worker: BullWorker, UnrecoverableError, WaitingError } = await bullmq();
  const name = sweepQueueName(sweep, options.name);
  const say = (s: string) => options.ctx.stdout.write(`${s}\n`);
  const outcomes: TaskOutcome[] = [];
  const running = new Set<TaskProcess>();
  let backend: string | null = null;
  const inProcessAbort = new AbortController();
  const stopping = () => options.signal?.aborted ?? false;

  const processJob = async (job: Job<SweepJobData>, token?: string): Promise<TaskOutcome> => {
    if (job.data.sweep !== sweep.id) throw new UnrecoverableError(`job ${job.id} belongs to sweep ${job.data.sweep}, but this worker's --out holds sweep ${sweep.id}`);
    const task = sweep.tasks.find((t) => t.id === job.data.task);
    if (!task) throw new UnrecoverableError(`job ${job.id} names task '${job.data.task}', which sweep ${sweep.id} does not have`);
    say(`task ${task.id}: started (job attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1})`);
    let outcome: TaskOutcome;
    if (options.script) {
      const p = startTaskProcess(sweep, task, 'queue', options.script, true);
      running.add(p);
      if (stopping()) p.stop();
      outcome = await p.done.finally(() => running.delete(p));
    } else {
      backend ??= (await initBackend({ backend: sweep.spec.train.backend as BackendChoice | undefined, log: false })).backend;
      outcome = await runTask(sweep, task, { via: 'queue', backend, signal: inProcessAbort.signal, retryFailed: true });
    }
    say(describeOutcome(outcome));
    if (outcome.outcome === 'interrupted' || (stopping() && outcome.outcome === 'failed')) {
      // Back to the queue for another worker; a stop is not the task's failure.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    outcomes.push(outcome);
    if (outcome.outcome === 'failed' || outcome.outcome === 'gave-up') throw new Error(outcome.error ?? 'task failed');
    return outcome;
  };

  const lockDuration = Math.round(options.lockSeconds * 1000);
  const worker: Worker<SweepJobData, TaskOutcome> = new BullWorker(name, processJob, {
    connection: { url: options.url, maxRetriesPerRequest: null },
    concurrency: options.concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // A worker that dies is not the task's fault; attempts bound real failures.
    maxStalledCount: allowedAttempts(sweep) + 2,
    drainDelay: Math.max(1, Math.min(5, Math.round(options.lockSeconds))),
  });
  let closing = false;
  // Once closing, the blocking connection's 'Connection is closed' is expected.
  worker.on('error', (e) => closing || options.ctx.stderr.write(`busi worker: queue error: ${e.message}\n`));
  const queue: Queue<SweepJobData> = new Queue(name, { connection: { url: options.url } });
  await worker.waitUntilReady();
  say(`worker pid ${process.pid} serving queue ${name} (sweep ${sweep.id}, ${pluralize(sweep.tasks.length, 'task')}) with ${pluralize(options.concurrency, 'task')} at a time`);
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve) => {
      const onStop = () => {
        say('stopping: running tasks save a checkpoint and go back to the queue');
        running.forEach((p) => p.stop());
        inProcessAbort.abort();
        resolve();
      };
      if (stopping()) return onStop();
      options.signal?.addEventListener('abort', onStop, { once: true });
      if (!options.exitWhenIdle) return;
      let checking = false;
      idleTimer = setInterval(() => {
        if (checking || closing) return;
        checking = true;
        queue
          .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')
          .then((c) => {
            if (Object.values(c).every((n) => n === 0) && running.size === 0 && !stopping()) {
              say('the queue is empty; exiting');
              resolve();
            }
          })
          .catch((e: Error) => options.ctx.stderr.write(`busi worker: ${e.message}\n`))
          .finally(() => {
            checking = false;
          });
      }, Math.max(500, lockDuration / 2));
    });
  } finally {
    closing = true;
    clearInterval(idleTimer);
    // Waits for running jobs (a stop has asked them to checkpoint).
    await worker.close();
    await queue.close();
  }
  return { outcomes };
}
