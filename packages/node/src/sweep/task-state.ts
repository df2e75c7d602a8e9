import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_EVALUATION } from '../runs/evaluate-run';
import { RUN_FILES, readJson, type RunStatus } from '../runs/run-folder';

// The one place that decides, from a task's run folder, whether to skip, resume or start it.

/** Where a task's run folder stands. */
export type TaskState = 'complete' | 'resumable' | 'new';

/** The file whose presence marks a finished task: the evaluation `busi train` writes last. */
export const TASK_RESULT = path.join(RUN_EVALUATION, 'metrics.json');

/** What finishes a task: the evaluation of its best model (written last), or its training alone. */
export type TaskFinish = 'evaluation' | 'training';

/**
 * 'complete' once training finished and (with `finish` 'evaluation') its evaluation was written; 'resumable' when the run
 * folder exists (with or without a checkpoint: without one the retry starts from the stored split
 * and seed, which gives the same run); 'new' when there is no run folder yet.
 */
export function taskState(dir: string, finish: TaskFinish = 'evaluation'): TaskState {
  if (!fs.existsSync(dir)) return 'new';
  if (!fs.existsSync(path.join(dir, RUN_FILES.config))) {
    if (fs.readdirSync(dir).length === 0) return 'new';
    throw new Error(`task folder '${dir}' exists but holds no ${RUN_FILES.config}; it is not a busi run folder (move it away to run the task)`);
  }
  const statusFile = path.join(dir, RUN_FILES.status);
  const status = fs.existsSync(statusFile) ? readJson<RunStatus>(statusFile, 'run status').status : 'training';
  return status === 'complete' && (finish === 'training' || fs.existsSync(path.join(dir, TASK_RESULT))) ? 'complete' : 'resumable';
}

/** Where a resumed task continues, as its checkpoint's trainer state says. */
export interface ResumePoint {
  /** The epoch in progress (0-based). */
  epoch: number;
  /** Batches of that epoch already trained (0: the epoch starts afresh). */
  batch: number;
}

/** Epoch and batch a resume of `dir` continues from (0, 0 without a checkpoint). */
export function resumePoint(dir: string): ResumePoint {
  // Read-only (the run's lock holder recovers checkpoints): the record only says where the retry starts.
  const state = path.join(dir, RUN_FILES.checkpoint, 'trainer-state.json');
  if (!fs.existsSync(state)) return { epoch: 0, batch: 0 };
  const s = readJson<{ epoch?: number; batchInEpoch?: number }>(state, 'checkpoint state');
  return { epoch: s.epoch ?? 0, batch: s.batchInEpoch ?? 0 };
}
