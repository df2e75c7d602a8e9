import * as fs from 'node:fs';
import * as path from 'node:path';
import { pluralize } from '@busi/core';

/**
 * Replacing a folder so that a SIGKILL at any instant, even one after an earlier fault, never
 * loses the last complete copy:
 *
 * - a new copy is staged in a uniquely named hidden sibling (`.<name>.tmp-XXXXXX`) and marked
 *   complete by a marker file written last (`markComplete`);
 * - the old copy is renamed to a uniquely named sibling (`.<name>.replaced-XXXXXX`), never to a
 *   fixed name that could belong to somebody else (such as `<name>.old`), and deleted only once
 *   the new one is in place;
 * - a copy is deleted by first removing its marker, so a half-deleted folder never looks complete.
 */

/** Marker file of a complete folder: JSON `{ files: {relative path: bytes}, ...extra }`, written last. */
export const COMPLETE_MARKER = '.complete.json';

/** Prefixes of the hidden siblings this module creates next to `name`. */
export function stagingPrefix(name: string): string {
  return `.${name}.tmp-`;
}

/** Prefix of a replaced copy waiting to be deleted. */
export function replacedPrefix(name: string): string {
  return `.${name}.replaced-`;
}

/** A new, empty staging folder beside `target`. */
export function makeStaging(target: string): string {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  return fs.mkdtempSync(path.join(parent, stagingPrefix(path.basename(target))));
}

function listFiles(dir: string, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, listFiles(path.join(dir, e.name), rel));
    else if (e.isFile() && rel !== COMPLETE_MARKER) out[rel] = fs.statSync(path.join(dir, e.name)).size;
  }
  return out;
}

/** Writes the marker of a fully written folder (listing every file and its size), plus `extra`. */
export function markComplete(dir: string, extra: Record<string, unknown> = {}): void {
  const marker = path.join(dir, COMPLETE_MARKER);
  const tmp = `${marker}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ ...extra, files: listFiles(dir) }));
  fs.renameSync(tmp, marker);
}

/**
 * What makes `dir` incomplete, for an error message (the marker missing, a listed file missing or
 * of another size than the marker lists), or null when it is complete.
 */
export function incompleteReason(dir: string): string | null {
  let marker: { files?: unknown };
  try {
    marker = JSON.parse(fs.readFileSync(path.join(dir, COMPLETE_MARKER), 'utf8'));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${COMPLETE_MARKER} (the save did not finish)` : `${COMPLETE_MARKER} is unreadable`;
  }
  const files = marker?.files;
  if (files === null || typeof files !== 'object') return `${COMPLETE_MARKER} lists no files`;
  for (const [rel, size] of Object.entries(files as Record<string, unknown>)) {
    let actual: number;
    try {
      actual = fs.statSync(path.join(dir, rel)).size;
    } catch {
      return `'${rel}' is missing`;
    }
    if (actual !== size) return `'${rel}' is ${pluralize(actual, 'byte')}, ${COMPLETE_MARKER} lists ${String(size)} (truncated or replaced?)`;
  }
  return null;
}

/** The marker of `dir` when the folder is complete (every listed file present with its size), else null. */
export function readComplete(dir: string): (Record<string, unknown> & { files: Record<string, number> }) | null {
  if (incompleteReason(dir) !== null) return null;
  return JSON.parse(fs.readFileSync(path.join(dir, COMPLETE_MARKER), 'utf8'));
}

/** Deletes a folder so that no intermediate state looks complete: marker first, then the rest. */
export function removeFolder(dir: string): void {
  fs.rmSync(path.join(dir, COMPLETE_MARKER), { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Puts the staged folder `staged` at `target`, replacing what is there. The previous copy is moved
 * to a unique hidden sibling and deleted only after the new one is in place; if the final rename
 * fails, the previous copy is put back.
 */
export function replaceFolder(staged: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(staged, target);
    return;
  }
  const parent = path.dirname(target);
  const aside = fs.mkdtempSync(path.join(parent, replacedPrefix(path.basename(target))));
  // rename() onto an empty folder replaces it: mkdtemp only reserved a unique name.
  fs.renameSync(target, aside);
  try {
    fs.renameSync(staged, target);
  } catch (e) {
    fs.renameSync(aside, target);
    throw e;
  }
  removeFolder(aside);
}

/** The hidden siblings of `target` left by killed saves (staging copies and replaced copies). */
export function leftovers(target: string): { staging: string[]; replaced: string[] } {
  const parent = path.dirname(target);
  const name = path.basename(target);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return { staging: [], replaced: [] };
  }
  const full = (p: string) => entries.filter((e) => e.startsWith(p)).map((e) => path.join(parent, e));
  return { staging: full(stagingPrefix(name)), replaced: full(replacedPrefix(name)) };
}

/**
 * The first entry of the existing folder `dir` that a command writing it did not create: every
 * entry must be listed in its {@link COMPLETE_MARKER} (written by `markComplete`) or, for
 * folders from before the marker, match one of `known`. Returns null when the folder is absent,
 * empty or entirely the command's own, so replacing it loses nothing of the user's.
 */
export function foreignEntry(dir: string, known: readonly RegExp[]): string | null {
  if (!fs.existsSync(dir)) return null;
  if (!fs.statSync(dir).isDirectory()) return dir;
  let listed: Set<string> | null = null;
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, COMPLETE_MARKER), 'utf8')) as { files?: Record<string, number> };
    listed = new Set(Object.keys(marker.files ?? {}).map((f) => f.split('/')[0]));
  } catch {
    listed = null;
  }
  for (const name of fs.readdirSync(dir)) {
    if (name === COMPLETE_MARKER) continue;
    const full = path.join(dir, name);
    if (listed) {
      if (listed.has(name)) continue;
      return full;
    }
    if (!known.some((re) => re.test(name))) return full;
    // A known folder name must hold known names too (a user's picture in gallery/ is theirs).
    if (fs.statSync(full).isDirectory()) {
      const inner = foreignEntry(full, known);
      if (inner) return inner;
    }
  }
  return null;
}
