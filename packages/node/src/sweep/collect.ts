import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvaluationSummary } from '../report/html';
import { lineChartSvg, writeChart } from '../report/plot';
import { RUN_FILES, readJson, writeFileAtomic, writeJsonAtomic, type RunStatus } from '../runs/run-folder';
import { readAttempts } from './attempts';
import { SWEEP_FILES, recordsDir, sweepTaskState, taskDir, type Sweep } from './folder';
import { modelLabel, type SweepTask } from './plan';
import { TASK_RESULT } from './task-state';
import { pluralize } from '@busi/core';

/** A column of the results table (the paper's Table 1): where its number comes from in a task's evaluation. */
export interface ResultColumn {
  /** The column's key in {@link ResultRow.scores} and table.json, e.g. 'pixelF1'. */
  key: string;
  /** 'classification', 'segmentation' or 'overall'. */
  group: string;
  /** The column heading within its group, e.g. 'F1'. */
  label: string;
  /** The column's number for one task, read from its evaluation. */
  value(m: EvaluationSummary): number;
}

/**
 * Table 1's columns, scored on each task's validation part: classification accuracy and macro F1;
 * segmentation IoU and Dice (means over images) and F1 over the pooled pixels; overall = the mean of
 * classification F1 and segmentation Dice (both tasks weighted alike).
 */
export const RESULT_COLUMNS: readonly ResultColumn[] = [
  { key: 'accuracy', group: 'classification', label: 'Accuracy', value: (m) => m.classification.accuracy },
  { key: 'f1', group: 'classification', label: 'F1', value: (m) => m.classification.macroF1 },
  { key: 'iou', group: 'segmentation', label: 'IoU', value: (m) => m.segmentation.perImage.iou },
  { key: 'dice', group: 'segmentation', label: 'Dice', value: (m) => m.segmentation.perImage.dice },
  { key: 'pixelF1', group: 'segmentation', label: 'F1', value: (m) => m.segmentation.pooled.f1 },
  { key: 'overall', group: 'overall', label: 'Overall', value: (m) => (m.classification.macroF1 + m.segmentation.perImage.dice) / 2 },
];

/** Mean and sample standard deviation (n - 1; null for one value) of one column over a row's tasks. */
export interface MeanSd {
  /** Mean over the tasks; NaN when none has finished. */
  mean: number;
  /** Sample standard deviation, or null with fewer than two tasks. */
  sd: number | null;
}

/** One model at one λ, over its folds and seeds. */
export interface ResultRow {
  /** The model as the table shows it, `decoder + encoder`. */
  model: string;
  /** Decoder registry name. */
  decoder: string;
  /** Encoder registry name. */
  encoder: string;
  /** Segmentation weight λ of the loss. */
  lambda: number;
  /** Finished tasks behind the numbers, of `expected`. */
  n: number;
  /** Tasks of this model and λ in the sweep: folds × seeds. */
  expected: number;
  /** Mean ± sd of each {@link RESULT_COLUMNS} column, by its key. */
  scores: Record<string, MeanSd>;
}

/** What `busi sweep collect` found. */
export interface SweepResults {
  /** The sweep's id. */
  sweep: string;
  /** Tasks in the sweep. */
  tasks: number;
  /** Tasks finished and evaluated. */
  complete: number;
  /** One row per model and λ, in the sweep's task order. */
  rows: ResultRow[];
  /** Tasks that have not finished (not started, or stopped part way), with where they stand. */
  missing: {
    /** The task's id. */
    task: string;
    /** Where it stands, e.g. 'not started' or 'stopped after 3 of 50 epochs'. */
    state: string;
  }[];
  /** Tasks whose last attempt failed, with that error and how often they failed. */
  failed: {
    /** The task's id. */
    task: string;
    /** Attempts that failed. */
    failures: number;
    /** The last attempt's error message. */
    error: string;
  }[];
}

/** Gathers every task's evaluation into one table: a row per model and λ, mean ± sd over folds and seeds. */
export function collectSweep(sweep: Sweep): SweepResults {
  const groups = new Map<string, { task: SweepTask; values: number[][] }>();
  const missing: SweepResults['missing'] = [];
  const failed: SweepResults['failed'] = [];
  let complete = 0;
  for (const task of sweep.tasks) {
    const key = `${modelLabel(task)}|${task.lambda}`;
    const group = groups.get(key) ?? { task, values: [] };
    groups.set(key, group);
    const dir = taskDir(sweep, task);
    if (sweepTaskState(sweep, task) === 'complete') {
      const m = readJson<EvaluationSummary>(path.join(dir, TASK_RESULT), 'task evaluation');
      group.values.push(RESULT_COLUMNS.map((c) => c.value(m)));
      complete++;
      continue;
    }
    const attempts = readAttempts(recordsDir(sweep), task.id).attempts;
    const last = attempts.at(-1);
    if (last?.outcome === 'failed') failed.push({ task: task.id, failures: attempts.filter((a) => a.outcome === 'failed').length, error: last.error ?? '' });
    else missing.push({ task: task.id, state: where(dir, last?.outcome) });
  }
  const rows = [...groups.values()].map(({ task, values }) => ({
    model: modelLabel(task),
    decoder: task.decoder,
    encoder: task.encoder,
    lambda: task.lambda,
    n: values.length,
    expected: sweep.spec.folds * sweep.spec.seeds.length,
    scores: Object.fromEntries(RESULT_COLUMNS.map((c, j) => [c.key, meanSd(values.map((v) => v[j]))])),
  }));
  return { sweep: sweep.id, tasks: sweep.tasks.length, complete, rows, missing, failed };
}

function where(dir: string, lastOutcome: string | undefined): string {
  const statusFile = path.join(dir, RUN_FILES.status);
  if (!fs.existsSync(statusFile)) return lastOutcome === 'running' ? 'starting' : 'not started';
  const s = readJson<RunStatus>(statusFile, 'run status');
  return `${lastOutcome === 'running' ? 'running' : 'stopped'} after ${s.epochsDone} of ${pluralize(s.epochs, 'epoch')}`;
}

function meanSd(xs: number[]): MeanSd {
  if (xs.length === 0) return { mean: NaN, sd: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean, sd: null };
  return { mean, sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) };
}

/** `0.8123 ± 0.0100` (or just the mean for one value; 'n/a' for none). */
export function formatMeanSd(s: MeanSd): string {
  if (!Number.isFinite(s.mean)) return 'n/a';
  return s.sd === null ? s.mean.toFixed(4) : `${s.mean.toFixed(4)} ± ${s.sd.toFixed(4)}`;
}

const HEAD = ['Model', 'λ', 'n', ...RESULT_COLUMNS.map((c) => (c.group === 'segmentation' || c.group === 'classification' ? `${c.label} (${c.group.slice(0, 3)}.)` : c.label))];

/** The results as Markdown: the table, then missing and failed tasks. */
export function resultsMarkdown(r: SweepResults): string {
  const lines = [
    `# Sweep ${r.sweep}: validation scores, mean ± sd over folds and seeds`,
    '',
    `${r.complete} of ${pluralize(r.tasks, 'task')} finished. Classification (cla.): accuracy and macro F1; segmentation (seg.): IoU and Dice per image (mean), F1 over pooled pixels; overall: mean of classification F1 and segmentation Dice.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|---|${HEAD.slice(1).map(() => '---:').join('|')}|`,
    ...r.rows.map((row) => `| ${row.model} | ${row.lambda} | ${row.n}/${row.expected} | ${RESULT_COLUMNS.map((c) => formatMeanSd(row.scores[c.key])).join(' | ')} |`),
    '',
  ];
  if (r.failed.length) lines.push('## Failed tasks', '', ...r.failed.map((f) => `- ${f.task}: failed ${f.failures}×: ${f.error}`), '');
  if (r.missing.length) lines.push('## Missing tasks', '', ...r.missing.map((m) => `- ${m.task}: ${m.state}`), '');
  return `${lines.join('\n')}`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The results as a self-contained HTML page (the table, the plot inline, missing and failed tasks). */
export function resultsHtml(r: SweepResults, plotSvg: string): string {
  const groupCells = ['classification', 'segmentation', 'overall'].map((g) => {
    const span = RESULT_COLUMNS.filter((c) => c.group === g).length;
    return `<th colspan="${span}">${g === 'overall' ? '' : esc(g)}</th>`;
  });
  const list = (title: string, items: string[]) => (items.length ? `<h2>${title}</h2>\n<ul>\n${items.map((i) => `<li>${esc(i)}</li>`).join('\n')}\n</ul>` : '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep ${esc(r.sweep)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
</style></head><body>
<h1>Sweep ${esc(r.sweep)}</h1>
<p>${r.complete} of ${pluralize(r.tasks, 'task')} finished. Validation scores, mean ± sd (sample) over folds and seeds.
Segmentation IoU and Dice are means over images, its F1 is over pooled pixels; overall is the mean of classification F1 and segmentation Dice.</p>
<table id="results">
<tr><th rowspan="2">Model</th><th rowspan="2">λ</th><th rowspan="2">n</th>${groupCells.join('')}</tr>
<tr>${RESULT_COLUMNS.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr>
${r.rows.map((row) => `<tr><td>${esc(row.model)}</td><td>${row.lambda}</td><td>${row.n}/${row.expected}</td>${RESULT_COLUMNS.map((c) => `<td>${esc(formatMeanSd(row.scores[c.key]))}</td>`).join('')}</tr>`).join('\n')}
</table>
${plotSvg}
${list('Failed tasks', r.failed.map((f) => `${f.task}: failed ${f.failures}×: ${f.error}`))}
${list('Missing tasks', r.missing.map((m) => `${m.task}: ${m.state}`))}
</body></html>
`;
}

/** The paper's Fig. 2: one column's mean against λ, a line per model. */
export function scoreVsLambdaSvg(r: SweepResults, column = 'overall'): string {
  const col = RESULT_COLUMNS.find((c) => c.key === column);
  if (!col) throw new Error(`unknown score '${column}'; one of ${RESULT_COLUMNS.map((c) => c.key).join(', ')}`);
  const models = [...new Set(r.rows.map((row) => row.model))];
  const series = models.map((model) => {
    const rows = r.rows.filter((row) => row.model === model).sort((a, b) => a.lambda - b.lambda);
    return { name: model, x: rows.map((row) => row.lambda), y: rows.map((row) => row.scores[col.key].mean) };
  });
  const what = col.group === 'overall' ? 'overall score' : `${col.group} ${col.label}`;
  return lineChartSvg(series, { title: `Validation ${what} against λ`, xLabel: 'λ (weight of the Dice loss)', yLabel: what });
}

/** Writes results/table.json, table.md, table.html and score-vs-lambda.svg/.png into the sweep folder; returns the folder. */
export async function writeResults(sweep: Sweep, r: SweepResults, column = 'overall'): Promise<string> {
  const dir = path.join(sweep.dir, SWEEP_FILES.results);
  const svg = scoreVsLambdaSvg(r, column);
  writeJsonAtomic(path.join(dir, 'table.json'), r);
  writeFileAtomic(path.join(dir, 'table.md'), resultsMarkdown(r));
  writeFileAtomic(path.join(dir, 'table.html'), resultsHtml(r, svg));
  await writeChart(path.join(dir, 'score-vs-lambda'), svg);
  return dir;
}
