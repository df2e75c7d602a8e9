import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext } from '../cli/args';
import { runVersions } from '../version';
import { loadData } from './data';
import { RUN_EVALUATION, evaluateFinishedRun } from './evaluate-run';
import { outputConflict } from './output-guard';
import { RUN_FILES, isNonEmptyDir, readJson, writeJsonAtomic, type RunStatus } from './run-folder';
import { acquireRunLock, type RunLock } from './run-lock';
import { runInputs } from './run-options';
import { stopSignal } from './stop-signal';
import { initTrainingBackend } from './training-memory';
import { readRunSplit } from './run-split';
import { readRunConfig, trainRun, type RunConfig } from './train-run';
import { pluralize } from '@busi/core';

// `busi train`'s job: a new run or the resume of one (extend it, finish a report a kill left out,
// or say it is done), trained and then evaluated. The command only parses its options into a
// TrainJobRequest and prints what this returns.

const SIGINT_MESSAGE = 'stopping after this batch and saving a checkpoint (Ctrl-C again quits without saving)';

/** What to train: a new run folder, or the run already in it. */
export interface TrainJobRequest {
  /** The run folder (absolute). */
  dir: string;
  /** Continue the run in `dir` (its config.json is used) instead of starting one. */
  resume: boolean;
  /** Replace a non-empty `dir` (a new run only). */
  force: boolean;
  /** The new run's configuration; called only for a new run, after `dir` is checked. */
  newConfig(): RunConfig;
}

/** A checked request: the configuration to train and, on resume, the run folder's lock. */
export interface TrainJob {
  dir: string;
  resume: boolean;
  force: boolean;
  config: RunConfig;
  /** Held from here on for a resume (config.json may be rewritten before training). */
  lock?: RunLock;
}

/** How a {@link TrainJob} runs. */
export interface TrainJobOptions {
  /** The epochs asked for on resume; a number other than the run's extends it. Undefined: as configured. */
  epochs?: number;
  /** Stop after this many epochs in this session (the run stays resumable). */
  maxEpochsThisRun?: number;
  /** Evaluate the best model on the report part once training completes. */
  report: boolean;
  quiet: boolean;
  /** The backend asked for; unset, `BUSI_BACKEND`, else the automatic choice. */
  backend?: BackendChoice;
  /** Stops training after the current batch with a mid-epoch checkpoint. */
  signal?: AbortSignal;
  /**
   * Instead of `signal`: while training (only then) the first Ctrl-C stops it that way and a second
   * one quits at once, `busi train`'s behaviour.
   */
  stopOnSigint?: boolean;
}

/** How a {@link TrainJob} ended. */
export interface TrainJobResult {
  /** The run's status afterwards (null when it had none). */
  status: RunStatus | null;
  /** The signal stopped training; the run is resumable. */
  interrupted: boolean;
}

/**
 * Checks a train request before anything is written (usage errors name the option): a resume needs
 * a run folder, which is then locked; a new run needs an empty (or --force) folder that holds none
 * of the run's inputs.
 */
export function openTrainJob(request: TrainJobRequest): TrainJob {
  const { dir, resume, force } = request;
  if (resume) {
    if (force) throw new UsageError('busi train: give --resume or --force, not both');
    if (!fs.existsSync(path.join(dir, RUN_FILES.config))) {
      throw new UsageError(`busi train --resume: '${dir}' is not a run folder (no ${RUN_FILES.config}); start it without --resume`);
    }
    const config = readRunConfig(dir);
    return { dir, resume, force, config, lock: acquireRunLock(dir) };
  }
  if (isNonEmptyDir(dir) && !force) {
    throw new UsageError(`busi train: run folder '${dir}' exists and is not empty; pass --force to replace it or --resume to continue it`);
  }
  const config = request.newConfig();
  const conflict = outputConflict({ option: '--out', path: dir }, runInputs(config));
  if (conflict) throw new UsageError(`busi train: ${conflict}`);
  return { dir, resume, force, config };
}

/** Runs a job from {@link openTrainJob} (and releases its lock): progress and outcome go to `ctx.stdout`. */
export async function runTrainJob(job: TrainJob, options: TrainJobOptions, ctx: CliContext): Promise<TrainJobResult> {
  try {
    return await runLocked(job, options, ctx);
  } finally {
    job.lock?.release();
  }
}

async function runLocked(job: TrainJob, options: TrainJobOptions, ctx: CliContext): Promise<TrainJobResult> {
  const { dir } = job;
  let config = job.config;
  if (job.resume) {
    const statusFile = path.join(dir, RUN_FILES.status);
    const st = fs.existsSync(statusFile) ? readJson<RunStatus>(statusFile) : null;
    if (options.epochs !== undefined && options.epochs !== config.epochs) {
      ctx.stdout.write(`extending the run from ${config.epochs} to ${pluralize(options.epochs, 'epoch')}\n`);
      config = { ...config, epochs: options.epochs };
      writeJsonAtomic(path.join(dir, RUN_FILES.config), config);
    } else if (st?.status === 'complete') {
      if (options.report && !fs.existsSync(path.join(dir, RUN_EVALUATION, 'report.html')) && fs.existsSync(path.join(dir, RUN_FILES.best))) {
        // Killed during the final evaluation: training is done, the report is not.
        ctx.stdout.write(`run '${dir}' is complete (${pluralize(st.epochsDone, 'epoch')}) but has no ${RUN_EVALUATION}/report.html; evaluating it now\n`);
        await initBackend({ backend: options.backend, log: false });
        const data = loadData(config.data, config.size);
        await evaluateFinishedRun(dir, config, { data, split: readRunSplit(dir, data) }, ctx);
        return { status: st, interrupted: false };
      }
      ctx.stdout.write(`run '${dir}' is complete (${pluralize(st.epochsDone, 'epoch')}); pass --epochs N to train further\n`);
      return { status: st, interrupted: false };
    }
    ctx.stdout.write(`resuming run '${dir}' with its config.json (other run options on the command line are ignored)\n`);
  }
  const backend = await initTrainingBackend(config, options.backend);
  ctx.stdout.write(`${backend.summary}\n`);
  if (!job.resume) config = { ...config, backend: backend.backend, versions: await runVersions() };
  const stop = options.stopOnSigint ? stopSignal(ctx, { signals: ['SIGINT'], message: () => SIGINT_MESSAGE }) : { signal: options.signal, dispose: () => undefined };
  let result: Awaited<ReturnType<typeof trainRun>>;
  try {
    result = await trainRun(
      config,
      dir,
      {
        resume: job.resume,
        force: job.force,
        maxEpochsThisRun: options.maxEpochsThisRun,
        quiet: options.quiet,
        backend: backend.backend,
        signal: stop.signal,
        lock: job.lock,
        keepLock: true,
      },
      ctx,
    );
  } finally {
    stop.dispose();
  }
  try {
    if (stop.signal?.aborted) return { status: result.status, interrupted: true };
    if (result.status.status === 'complete' && options.report) await evaluateFinishedRun(dir, config, result, ctx);
    return { status: result.status, interrupted: false };
  } finally {
    result.lock?.release();
  }
}
