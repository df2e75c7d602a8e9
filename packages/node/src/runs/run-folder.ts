import * as fs from 'node:fs';
import * as path from 'node:path';
import { MultiTaskModel, decodeTrainerState, encodeTrainerState, type History, type Trainer, type TrainerState } from '@busi/core';
import { fileSystem } from '@busi/data';

/** Files of a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  split: 'split.json',
  status: 'status.json',
  history: 'history.csv',
  metrics: 'metrics.json',
  best: 'best-model',
  last: 'last-model',
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
  updated: string;
}

/** Writes a file atomically: a temporary sibling, then a rename. */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
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
  } catch {
    throw new Error(`${what} '${file}' not found`);
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
 * split. An existing folder is replaced only with `force` (and removed only once the new one is there).
 */
export function createRunFolder(dir: string, files: Record<string, string>, force: boolean): void {
  const target = path.resolve(dir);
  if (isNonEmptyDir(target) && !force) {
    throw new Error(`run folder '${target}' exists and is not empty; pass --force to replace it or --resume to continue it`);
  }
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`));
  try {
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), content);
    swapInto(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Puts folder `tmp` at `target`, replacing what is there; the old copy is kept as `<target>.old` until the new one is in place. */
function swapInto(tmp: string, target: string): void {
  const old = `${target}.old`;
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
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

/**
 * Saves the model and the trainer state as `<run>/checkpoint` (model/, trainer-state.json,
 * trainer-state.bin, extra.json): written into a temporary folder, then swapped in, so a kill at
 * any moment leaves the previous or the new checkpoint complete.
 */
export async function saveCheckpoint(runDir: string, trainer: Trainer, extra: unknown): Promise<void> {
  const target = path.join(runDir, RUN_FILES.checkpoint);
  const tmp = fs.mkdtempSync(path.join(runDir, '.checkpoint.tmp-'));
  const state = await trainer.getState();
  try {
    await trainer.model.save(fileSystem(path.join(tmp, 'model')));
    const encoded = await encodeTrainerState(state);
    fs.writeFileSync(path.join(tmp, 'trainer-state.bin'), new Uint8Array(encoded.data));
    fs.writeFileSync(path.join(tmp, 'trainer-state.json'), JSON.stringify(encoded.json));
    fs.writeFileSync(path.join(tmp, 'extra.json'), JSON.stringify(extra));
    swapInto(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    // getState's optimizer tensors are snapshots owned by the caller.
    for (const w of state.optimizerWeights) w.tensor.dispose();
  }
}

/** The newest complete checkpoint of a run (falling back to `checkpoint.old` after a kill mid-swap), or null. */
export function findCheckpoint(runDir: string): string | null {
  for (const name of [RUN_FILES.checkpoint, `${RUN_FILES.checkpoint}.old`]) {
    const dir = path.join(runDir, name);
    if (['model/model.json', 'trainer-state.json', 'trainer-state.bin', 'extra.json'].every((f) => fs.existsSync(path.join(dir, f)))) return dir;
  }
  return null;
}

/** Loads a checkpoint written by `saveCheckpoint`; the caller owns the model and the state's tensors. */
export async function loadCheckpoint<E>(dir: string): Promise<{ model: MultiTaskModel; state: TrainerState; extra: E }> {
  const json = readJson<Parameters<typeof decodeTrainerState>[0]['json']>(path.join(dir, 'trainer-state.json'), 'checkpoint state');
  const bin = fs.readFileSync(path.join(dir, 'trainer-state.bin'));
  const state = decodeTrainerState({ json, data: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) });
  const extra = readJson<E>(path.join(dir, 'extra.json'), 'checkpoint');
  const model = await MultiTaskModel.load(fileSystem(path.join(dir, 'model')));
  return { model, state, extra };
}
