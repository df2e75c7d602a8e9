import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../runs/run-folder';
import { SWEEP_FILES } from './folder';
import type { ResumePoint } from './task-state';

/** One try at a task. */
export interface TaskAttempt {
  /** 1-based. */
  attempt: number;
  /** `host:pid` of the process that ran it. */
  worker: string;
  /** How the sweep was run: 'local', 'array' or 'queue'. */
  via: string;
  /** When the attempt began, as an ISO 8601 time. */
  started: string;
  /** When it ended, as an ISO 8601 time; null while running (or killed unseen). */
  ended: string | null;
  /**
   * 'running' while it runs (or when its process was killed and nobody has looked since);
   * 'interrupted' once a later attempt found it so, or after a stop request.
   */
  outcome: 'running' | 'complete' | 'failed' | 'interrupted';
  /** Epoch and batch it continued from (0, 0: from the start). */
  resumedFrom: ResumePoint;
  /** The error of a failed attempt. */
  error?: string;
}

/** `attempts/<task>.json`: every try at one task, oldest first. */
export interface TaskAttempts {
  /** The task's id. */
  task: string;
  /** Its attempts, oldest first. */
  attempts: TaskAttempt[];
}

function file(sweepDir: string, task: string): string {
  return path.join(sweepDir, SWEEP_FILES.attempts, `${task}.json`);
}

/** The attempt record of a task (empty when it never ran). */
export function readAttempts(sweepDir: string, task: string): TaskAttempts {
  const f = file(sweepDir, task);
  return fs.existsSync(f) ? readJson<TaskAttempts>(f, 'attempt record') : { task, attempts: [] };
}

/** Failed attempts so far. */
export function failureCount(record: TaskAttempts): number {
  return record.attempts.filter((a) => a.outcome === 'failed').length;
}

/**
 * Records the start of an attempt and returns its number. An earlier attempt still marked
 * 'running' belonged to a process that died (the caller holds the task now): it becomes 'interrupted'.
 */
export function beginAttempt(sweepDir: string, task: string, via: string, resumedFrom: TaskAttempt['resumedFrom']): number {
  const record = readAttempts(sweepDir, task);
  for (const a of record.attempts) if (a.outcome === 'running') a.outcome = 'interrupted';
  const attempt = record.attempts.length + 1;
  record.attempts.push({ attempt, worker: `${os.hostname()}:${process.pid}`, via, started: new Date().toISOString(), ended: null, outcome: 'running', resumedFrom });
  writeJsonAtomic(file(sweepDir, task), record);
  return attempt;
}

/** Records how attempt `attempt` ended. */
export function endAttempt(sweepDir: string, task: string, attempt: number, outcome: 'complete' | 'failed' | 'interrupted', error?: string): void {
  const record = readAttempts(sweepDir, task);
  const a = record.attempts.find((x) => x.attempt === attempt);
  if (!a) throw new Error(`attempt record of task ${task} has no attempt ${attempt}`);
  a.outcome = outcome;
  a.ended = new Date().toISOString();
  if (error !== undefined) a.error = error;
  writeJsonAtomic(file(sweepDir, task), record);
}
