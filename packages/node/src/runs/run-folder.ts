import * as fs from 'node:fs';
import * as path from 'node:path';
import { MultiTaskModel, decodeTrainerState, encodeTrainerState, type History, type Trainer, type TrainerState } from '@busi/core';
import { fileSystem } from '@busi/data';
import { COMPLETE_MARKER, leftovers, makeStaging, markComplete, readComplete, removeFolder, replaceFolder } from './folder-swap';
import { LOCK_FILE, acquireRunLock, heldLock, lockContent, type RunLock } from './run-lock';

/** Files of a run folder. */
export const RUN_FILES = {
  /** The {@link RunConfig}, written when the run is created. */
  config: 'config.json',
  /** The split the run trains on, by sample id (a split file with one part). */
  split: 'split.json',
  /** The {@link RunStatus}, rewritten after every epoch. */
  status: 'status.json',
  /** One row per epoch of the logged quantities (see `historyCsv`). */
  history: 'history.csv',
  /** The monitored quantity's best and the last epoch's logs, written when a session ends. */
  metrics: 'metrics.json',
  /** Model folder of the best epoch by the monitored quantity. */
  best: 'best-model',
  /** Model folder of the last epoch, written once the run is complete. */
  last: 'last-model',
  /** Model and trainer state after the last finished epoch (or interrupted batch), for `--resume`. */
  checkpoint: 'checkpoint',
} as const;

/** Where a run stands; `status.json`. */
export interface RunStatus {
  /** 'training' also for a run that was killed: only 'complete' means the run finished. */
  status: 'training' | 'stopped' | 'complete' | 'failed';
  /** Epochs trained so far. */
  epochsDone: number;
  /** Epochs asked for. */
  epochs: number;
  /** Epoch (1-based) of the best model, or null. */
  bestEpoch: number | null;
  /** Why training ended early, or the error. */
  message?: string;
  /** When this status was written, as an ISO 8601 time. */
  updated: string;
}

/** Writes a file atomically: a temporary sibling, then a rename. */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    // EROFS, ENOSPC, EACCES: name the file, not only the errno.
    throw new Error(`cannot write '${file}': ${(e as Error).message}`);
  }
}

/** JSON with a trailing newline; NaN and ±Infinity become null. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON file, naming it in the error. */
export function readJson<T>(file: string, what = 'file'): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what} '${file}' not found` : `cannot read ${what} '${file}': ${code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what} '${file}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** Whether `dir` exists and holds anything. */
export function isNonEmptyDir(dir: string): boolean {
  return fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0);
}

/**
 * Creates a run folder holding `files` (name → content) in one step: they are written into a
 * temporary sibling that is then renamed, so a run folder never exists without its config and
 * split. The new folder is born locked (see `acquireRunLock`); the returned lock is the
 * caller's to release. An existing folder is replaced only with `force`, only while no live
 * process holds its lock, and removed only once the new one is in place.
 */
export function createRunFolder(dir: string, files: Record<string, string>, force: boolean, purpose = 'busi train'): RunLock {
  const target = path.resolve(dir);
  if (isNonEmptyDir(target) && !force) {
    throw new Error(`run folder '${target}' exists and is not empty; pass --force to replace it or --resume to continue it`);
  }
  if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) throw new Error(`run folder '${target}' exists and is not a folder`);
  // Replacing a folder that another process is training would pull it from under that process.
  const old = fs.existsSync(target) ? acquireRunLock(target, purpose) : null;
  const tmp = makeStaging(target);
  const content = lockContent(purpose);
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), text);
    fs.writeFileSync(path.join(tmp, LOCK_FILE), content);
    try {
      replaceFolder(tmp, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new Error(`run folder '${target}' was created by another process meanwhile; not replaced`);
      throw e;
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    old?.release();
    throw e;
  }
  return heldLock(path.join(target, LOCK_FILE), content);
}

/** `history.csv`: one row per epoch (1-based), the logged quantities in a stable order, then the epoch's seconds. */
export function historyCsv(history: History, seconds: readonly number[] = []): string {
  const keys = Object.keys(history.history);
  const order = (k: string) => (k.startsWith('val_') ? 2 : k === 'lr' ? 1 : 0);
  keys.sort((a, b) => order(a) - order(b));
  const rows = [['epoch', ...keys, 'seconds'].join(',')];
  history.epoch.forEach((e, i) => {
    const cell = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(v));
    rows.push([String(e + 1), ...keys.map((k) => cell(history.history[k][i])), cell(seconds[i])].join(','));
  });
  return `${rows.join('\n')}\n`;
}

/** Parses a `history.csv` into columns (empty cells are NaN). */
export function parseHistoryCsv(text: string): Record<string, number[]> {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  const keys = head.split(',');
  const cols: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
  for (const line of lines) {
    const cells = line.split(',');
    keys.forEach((k, i) => cols[k].push(cells[i] === undefined || cells[i] === '' ? NaN : Number(cells[i])));
  }
  return cols;
}

const CHECKPOINT_FILES = ['model/model.json', 'trainer-state.json', 'trainer-state.bin', 'extra.json'];

/**
 * Saves the model and the trainer state as `<run>/checkpoint` (model/, trainer-state.json,
 * trainer-state.bin, extra.json, and .complete.json written last with the step): staged in a
 * hidden sibling, then swapped in (see folder-swap), so a SIGKILL at any moment, also one that
 * follows an earlier fault, leaves at least one complete checkpoint that `findCheckpoint`
 * picks.
 */
export async function saveCheckpoint(runDir: string, trainer: Trainer, extra: unknown): Promise<void> {
  const target = path.join(runDir, RUN_FILES.checkpoint);
  const tmp = makeStaging(target);
  const state = await trainer.getState();
  try {
    await trainer.model.save(fileSystem(path.join(tmp, 'model')));
    const encoded = await encodeTrainerState(state);
    // A failed write() (ENOSPC, EROFS, EIO) names no file; say which checkpoint and which file.
    const write = (name: string, data: string | Uint8Array) => {
      try {
        fs.writeFileSync(path.join(tmp, name), data);
      } catch (e) {
        throw new Error(`cannot save the checkpoint '${target}' (writing ${name}): ${(e as Error).message}`);
      }
    };
    write('trainer-state.bin', new Uint8Array(encoded.data));
    write('trainer-state.json', JSON.stringify(encoded.json));
    write('extra.json', JSON.stringify(extra));
    markComplete(tmp, { globalStep: state.meta.globalStep, epoch: state.meta.epoch, batchInEpoch: state.meta.batchInEpoch });
    replaceFolder(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    // getState's optimizer tensors are snapshots owned by the caller.
    for (const w of state.optimizerWeights) w.tensor.dispose();
  }
}

/** The optimizer step a checkpoint folder holds, or null when it is not complete. */
function checkpointStep(dir: string): number | null {
  const marker = readComplete(dir);
  if (marker) return CHECKPOINT_FILES.every((f) => f in marker.files) && typeof marker.globalStep === 'number' ? marker.globalStep : null;
  // Checkpoints written before .complete.json: all four files, the step from the state.
  if (fs.existsSync(path.join(dir, COMPLETE_MARKER)) || !CHECKPOINT_FILES.every((f) => fs.existsSync(path.join(dir, f)))) return null;
  try {
    const step = (JSON.parse(fs.readFileSync(path.join(dir, 'trainer-state.json'), 'utf8')) as { globalStep?: unknown }).globalStep;
    return typeof step === 'number' ? step : null;
  } catch {
    return null;
  }
}

/** What `findCheckpoint` found. */
export interface CheckpointSearch {
  /** The newest complete checkpoint (now at `<run>/checkpoint`), or null. */
  dir: string | null;
  /** Checkpoint folders that exist but are incomplete (when `dir` is null, resuming would lose work). */
  incomplete: string[];
}

/**
 * Finds the newest complete checkpoint among `<run>/checkpoint` and the copies killed saves left
 * beside it, puts it at `<run>/checkpoint`, and deletes the rest (temporary folders of killed
 * saves included). Call it only while holding the run's lock.
 */
export function findCheckpoint(runDir: string): CheckpointSearch {
  const target = path.join(runDir, RUN_FILES.checkpoint);
  const { staging, replaced } = leftovers(target);
  const legacy = path.join(runDir, `${RUN_FILES.checkpoint}.old`);
  const candidates = [target, ...replaced, ...staging, legacy].filter((d) => fs.existsSync(d));
  let best: string | null = null;
  let bestStep = -1;
  const incomplete: string[] = [];
  for (const d of candidates) {
    const step = checkpointStep(d);
    if (step === null) incomplete.push(d);
    else if (step > bestStep) {
      best = d;
      bestStep = step;
    }
  }
  if (best === null) {
    // Nothing to fall back on: keep what is there for the user to look at, drop only the temporaries.
    for (const d of staging) removeFolder(d);
    return { dir: null, incomplete: incomplete.filter((d) => !staging.includes(d)) };
  }
  if (best !== target) replaceFolder(best, target);
  for (const d of candidates) if (d !== best && d !== target && fs.existsSync(d)) removeFolder(d);
  return { dir: target, incomplete: [] };
}

/** Loads a checkpoint written by `saveCheckpoint`; the caller owns the model and the state's tensors. Errors name the file. */
export async function loadCheckpoint<E>(dir: string): Promise<{
  /** The model as saved, weights included. */
  model: MultiTaskModel;
  /** Optimizer moments, position (epoch, batch), shuffling state and history, for `Trainer.setState`. */
  state: TrainerState;
  /** The caller's own record saved beside them (`extra.json`). */
  extra: E;
}> {
  const jsonFile = path.join(dir, 'trainer-state.json');
  const binFile = path.join(dir, 'trainer-state.bin');
  const json = readJson<Parameters<typeof decodeTrainerState>[0]['json']>(jsonFile, 'checkpoint state');
  const bin = fs.readFileSync(binFile);
  const state = decodeTrainerState({ json, data: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }, `checkpoint state '${jsonFile}' with '${binFile}'`);
  try {
    const extra = readJson<E>(path.join(dir, 'extra.json'), 'checkpoint');
    const model = await MultiTaskModel.load(fileSystem(path.join(dir, 'model')));
    return { model, state, extra };
  } catch (e) {
    for (const w of state.optimizerWeights) w.tensor.dispose();
    throw e;
  }
}

/**
 * Removes what killed writes left in a run folder: temporary files of atomic writes and the
 * staging or replaced copies of model folders, restoring a model folder whose swap was cut
 * short. Call it only while holding the run's lock (every temporary is then stale).
 */
export function cleanRunFolder(runDir: string): void {
  for (const name of fs.readdirSync(runDir)) {
    const file = path.join(runDir, name);
    if (/\.tmp-\d+$/.test(name) && fs.statSync(file).isFile()) fs.rmSync(file, { force: true });
  }
  for (const name of [RUN_FILES.best, RUN_FILES.last, 'evaluation']) {
    const target = path.join(runDir, name);
    const { staging, replaced } = leftovers(target);
    // fileSystem() moves the previous model to '<staging>.old' while it swaps.
    const asides = [...replaced, ...staging.filter((d) => d.endsWith('.old'))];
    if (!fs.existsSync(target) && asides.length > 0) fs.renameSync(asides[0], target);
    for (const d of [...staging, ...replaced]) if (fs.existsSync(d)) removeFolder(d);
  }
}

