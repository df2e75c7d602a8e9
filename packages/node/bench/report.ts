import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function outDir(): string {
  const arg = process.argv.find((a) => a.startsWith('--out='));
  return arg ? arg.slice('--out='.length) : path.join(process.cwd(), '.bench');
}

/** Host facts that matter for reading CPU timings (load average: the machine may be shared). */
export function hostInfo(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    loadavg1: +os.loadavg()[0].toFixed(2),
    date: new Date().toISOString(),
  };
}

export function markdownTable(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = Object.keys(rows[0]);
  const lines = [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

/** Writes `<name>.json` and `<name>.md` into the output directory (default .bench/) and says where. */
export function writeResults(name: string, rows: Array<Record<string, unknown>>, title: string): void {
  const dir = outDir();
  mkdirSync(dir, { recursive: true });
  const host = hostInfo();
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ title, host, rows }, null, 2));
  const md = `### ${title}\n\nHost: ${Object.entries(host).map(([k, v]) => `${k} ${v}`).join(', ')}\n\n${markdownTable(rows)}`;
  writeFileSync(path.join(dir, `${name}.md`), md);
  console.log(`\n${md}\nwrote ${path.join(dir, name)}.{json,md}`);
}

/**
 * Replaces what lies between `<!-- <marker>:begin -->` and `<!-- <marker>:end -->` in a Markdown
 * file (written to a temporary file first, then renamed, so an interrupted write leaves the old one).
 */
export function writeBetweenMarkers(file: string, marker: string, content: string): void {
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file}: no '${begin}' … '${end}' markers to write the results between`);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${text.slice(0, i + begin.length)}\n${content.trim()}\n${text.slice(j)}`);
  renameSync(tmp, file);
}

/**
 * The line of a child process's stderr that names its failure, for a table cell: an abort or an
 * out-of-memory first (a wasm heap overflow prints `RuntimeError: Aborted()`), then the last
 * `...Error:` line; not the warnings printed before it (e.g. the webgpu probe's Vulkan messages).
 */
export function childFailure(res: { status: number | null; signal?: string | null; stderr: string }): string {
  const lines = res.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at '));
  const reason = lines.find((l) => /abort|out of memory|\boom\b|cannot enlarge/i.test(l)) ?? lines.filter((l) => /\w*Error:/.test(l)).pop() ?? lines.pop();
  return `${res.signal ?? `exit ${res.status}`}: ${(reason ?? 'no output').slice(0, 100)}`;
}

/** The JSON of a child process's `RESULT {...}` line (the bench scripts' child protocol), or null when it printed none. */
export function resultLine<T>(stdout: string): T | null {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return line ? (JSON.parse(line.slice('RESULT '.length)) as T) : null;
}
