import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The lock of a run folder: while a process writes a run folder (training, resuming, evaluating
 * into it), the folder holds {@link LOCK_FILE} with that process's pid, host and start time. A
 * second process asking for the lock gets a `RunLockedError` naming the holder. A lock
 * whose process is gone (same host, pid not alive: the holder was killed) is stale and is taken
 * over. Commands that start training runs (train, grid-lambda, sweeps) take the lock through
 * `acquireRunLock` or `createRunFolder`; call `RunLock.release` when done.
 *
 * @example
 * ```ts
 * const lock = acquireRunLock(runDir); // throws RunLockedError while another process trains it
 * try { ... } finally { lock.release(); }
 * ```
 */

/** Name of the lock file inside a run folder. */
export const LOCK_FILE = '.busi-lock';

/** What a lock file says about its holder. */
export interface LockHolder {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the holder (a pid can only be checked on the same host). */
  host: string;
  /** When the lock was taken (ISO time). */
  started: string;
  /** What the holder is doing, e.g. 'busi train'. */
  purpose: string;
}

/** Thrown when a run folder is locked by a live process. */
export class RunLockedError extends Error {
  constructor(
    /** The locked run folder. */
    readonly dir: string,
    /** Who holds the lock, as its lock file says. */
    readonly holder: LockHolder,
  ) {
    super(
      `run folder '${dir}' is in use by process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.started}); ` +
        `wait for it to finish, or stop it first. If no such process exists, delete '${path.join(dir, LOCK_FILE)}'`,
    );
    this.name = 'RunLockedError';
  }
}

/** A held lock. */
export interface RunLock {
  /** The lock file. */
  readonly file: string;
  /** Removes the lock file if it is still this lock's (idempotent). */
  release(): void;
}

/** The lock file content for this process. */
export function lockContent(purpose: string): string {
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), purpose };
  return `${JSON.stringify(holder)}\n`;
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(h?.pid) ? h : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live holder of the lock of `dir`, or null when it is free or stale. */
export function lockHolder(dir: string): LockHolder | null {
  const h = readHolder(path.join(dir, LOCK_FILE));
  if (!h) return null;
  if (h.host !== os.hostname()) return h;
  return alive(h.pid) ? h : null;
}

/** A handle on the lock file `file`, written with `content` by this process. */
export function heldLock(file: string, content: string): RunLock {
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      try {
        if (fs.readFileSync(file, 'utf8') === content) fs.rmSync(file, { force: true });
      } catch {
        // Already gone (the folder was replaced or removed).
      }
    },
  };
}

/**
 * Takes the lock of the existing folder `dir`, replacing a stale one; throws
 * `RunLockedError` while a live process holds it (this process included: locks do not nest).
 */
export function acquireRunLock(dir: string, purpose = 'busi train'): RunLock {
  const file = path.join(dir, LOCK_FILE);
  const content = lockContent(purpose);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, content, { flag: 'wx' });
      return heldLock(file, content);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = lockHolder(dir);
    if (holder) throw new RunLockedError(dir, holder);
    // Stale (or unreadable): break it under a mutex, so two processes cannot both take it over.
    const mutex = `${file}.break`;
    try {
      fs.mkdirSync(mutex);
    } catch {
      const age = Date.now() - (fs.statSync(mutex, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10_000) fs.rmSync(mutex, { recursive: true, force: true });
      continue;
    }
    try {
      if (!lockHolder(dir)) fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(mutex, { recursive: true, force: true });
    }
  }
  const holder = readHolder(file);
  if (holder) throw new RunLockedError(dir, holder);
  throw new Error(`could not take the lock '${file}' (it keeps changing); is another busi process starting on '${dir}'?`);
}
