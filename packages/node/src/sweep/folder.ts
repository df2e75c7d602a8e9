import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, type CliContext } from '../cli/args';
import { runConfigFromOptions } from '../runs/run-options';
import { readJson, writeJsonAtomic } from '../runs/run-folder';
import type { RunConfig } from '../runs/train-run';
import { writeFoldsFile } from './folds';
import { expandSweep, sweepId, type SweepTask } from './plan';
import { readSweepFile, trainOptionValues, type SweepSpec } from './spec';
import { taskState, type TaskFinish, type TaskState } from './task-state';

/** Files and folders of a sweep folder. */
export const SWEEP_FILES = {
  /** The resolved sweep: spec, id and task list. */
  plan: 'sweep.json',
  /** One `busi train` run folder per task. */
  tasks: 'tasks',
  /** One attempt record per task (`<id>.json`). */
  attempts: 'attempts',
  /** One log per task (`<id>.log`). */
  logs: 'logs',
  /** The k-fold split shared by every task (sweeps with folds > 1). */
  folds: 'folds.json',
  /** What `busi sweep collect` writes. */
  results: 'results',
} as const;

/** `sweep.json`. */
export interface SweepPlanFile {
  /** Marks the file as a busi sweep plan. */
  format: 'busi-sweep';
  /** Version of the file's layout (1 so far). */
  version: 1;
  /** The sweep's id, a hash of `spec` (see {@link sweepId}). */
  id: string;
  /** The sweep after defaults and checks. */
  spec: SweepSpec;
  /** Every task of the sweep, in order. */
  tasks: SweepTask[];
}

/** Where a kind of sweep keeps its task runs and records, and what finishes a task. */
export interface SweepLayout {
  /** A task's run folder, relative to the sweep folder. */
  taskFolder(task: SweepTask): string;
  /** The folder of attempts/ and logs/, relative to the sweep folder ('': the sweep folder itself). */
  records: string;
  /**
   * What a task ends with: 'evaluation' of its best model on its report part (`busi sweep`, whose
   * table reads it) or its 'training' (`busi grid-lambda`, whose table reads the best epoch's validation scores).
   */
  finish: TaskFinish;
}

/** `busi sweep`'s layout: `tasks/<task id>/` run folders, records beside them, every task evaluated. */
export const SWEEP_LAYOUT: SweepLayout = {
  taskFolder: (task) => path.join(SWEEP_FILES.tasks, task.id),
  records: '',
  finish: 'evaluation',
};

/** A sweep and the folder its tasks write to. */
export interface Sweep {
  /** The sweep folder. */
  dir: string;
  /** The sweep's id, a hash of `spec` (see {@link sweepId}). */
  id: string;
  /** The sweep after defaults and checks. */
  spec: SweepSpec;
  /** Every task of the sweep, in order (see {@link expandSweep}). */
  tasks: SweepTask[];
  /** Where its task runs and records go, and what finishes a task. */
  layout: SweepLayout;
}

/**
 * The sweep of `--config FILE` (or, without one, the `sweep.json` already in `out`). A folder that
 * holds another sweep is refused, so results of different grids never mix.
 */
export function openSweep(out: string, configFile?: string): Sweep {
  const planFile = path.join(out, SWEEP_FILES.plan);
  const existing = fs.existsSync(planFile) ? readJson<SweepPlanFile>(planFile, 'sweep plan') : null;
  if (existing && existing.format !== 'busi-sweep') throw new UsageError(`busi sweep: '${planFile}' is not a busi sweep plan`);
  if (!configFile) {
    if (!existing) throw new UsageError(`busi sweep: --config FILE is required ('${out}' holds no ${SWEEP_FILES.plan} yet)`);
    return { dir: out, id: existing.id, spec: existing.spec, tasks: expandSweep(existing.spec), layout: SWEEP_LAYOUT };
  }
  const spec = readSweepFile(configFile);
  const id = sweepId(spec);
  if (existing && existing.id !== id) {
    throw new UsageError(
      `busi sweep: '${out}' holds sweep ${existing.id}, and '${configFile}' describes another (${id}); ` +
        `${firstDifference(existing.spec, spec) ?? 'the specs differ'}. Use a new --out for a different grid`,
    );
  }
  return { dir: out, id, spec, tasks: expandSweep(spec), layout: SWEEP_LAYOUT };
}

function firstDifference(a: SweepSpec, b: SweepSpec): string | null {
  for (const k of Object.keys({ ...a, ...b }) as (keyof SweepSpec)[]) {
    if (k === 'train') {
      for (const t of Object.keys({ ...a.train, ...b.train })) {
        if (a.train[t] !== b.train[t]) return `train.${t} was ${JSON.stringify(a.train[t])}, now ${JSON.stringify(b.train[t])}`;
      }
    } else if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} was ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}`;
  }
  return null;
}

/**
 * Checks every task's training options (before anything is written), then writes `sweep.json` and,
 * for a k-fold sweep, the shared split, unless they are there. Both are the same bytes on every
 * machine, so concurrent array tasks may race to write them.
 */
export async function prepareSweep(sweep: Sweep, ctx: CliContext): Promise<void> {
  for (const task of sweep.tasks) taskRunConfig(sweep, task, ctx);
  fs.mkdirSync(sweep.dir, { recursive: true });
  const planFile = path.join(sweep.dir, SWEEP_FILES.plan);
  if (!fs.existsSync(planFile)) writeJsonAtomic(planFile, { format: 'busi-sweep', version: 1, id: sweep.id, spec: sweep.spec, tasks: sweep.tasks } satisfies SweepPlanFile);
  if (sweep.spec.folds > 1 && !sweep.spec.train.splitFile && !fs.existsSync(foldsFile(sweep))) await writeFoldsFile(sweep.spec, foldsFile(sweep));
}

function foldsFile(sweep: Sweep): string {
  return path.join(sweep.dir, SWEEP_FILES.folds);
}

/** The run folder of a task. */
export function taskDir(sweep: Sweep, task: SweepTask): string {
  return path.join(sweep.dir, sweep.layout.taskFolder(task));
}

/** The folder of a sweep's attempt records and logs. */
export function recordsDir(sweep: Sweep): string {
  return path.join(sweep.dir, sweep.layout.records);
}

/** Where a task stands (see {@link taskState}), by the sweep's layout. */
export function sweepTaskState(sweep: Sweep, task: SweepTask): TaskState {
  return taskState(taskDir(sweep, task), sweep.layout.finish);
}

/** The task's `busi train` configuration (usage errors name the task). */
export function taskRunConfig(sweep: Sweep, task: SweepTask, ctx: CliContext): RunConfig {
  let config: RunConfig;
  try {
    config = runConfigFromOptions(trainOptionValues(sweep.spec, task), ctx, 'sweep');
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${e.message} (task ${task.id})`);
    throw e;
  }
  // The generated k-fold split may not exist yet while the plan is checked.
  if (sweep.spec.folds > 1 && !config.splitFile) config.splitFile = foldsFile(sweep);
  if (config.data.kind === 'synthetic') config.data = { ...config.data, seed: sweep.spec.dataSeed };
  return config;
}
