import { mkdirSync, writeFileSync } from 'node:fs';
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
