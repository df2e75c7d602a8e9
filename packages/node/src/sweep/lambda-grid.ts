import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliContext, OptionValues } from '../cli/args';
import { lineChartSvg, writeChart } from '../report/plot';
import { RUN_FILES, readJson, writeFileAtomic, writeJsonAtomic } from '../runs/run-folder';
import { RUN_OPTIONS } from '../runs/run-options';
import type { RunConfig } from '../runs/train-run';
import { taskDir, type Sweep, type SweepLayout } from './folder';
import { expandSweep, sweepId } from './plan';
import { runTask } from './run-task';
import { SET_BY_SWEEP, camelKey, type SweepSpec } from './spec';

// `busi grid-lambda` as a preset of the sweep engine: one model trained once per λ (same split,
// seed and options), planned by expandSweep, run by runTask, collected into the λ table and plot.

/** `busi grid-lambda`'s layout: `lambda-<λ>/` run folders in the grid folder, records in `.sweep/`, a task done once trained. */
export const LAMBDA_GRID_LAYOUT: SweepLayout = {
  taskFolder: (task) => `lambda-${task.lambda}`,
  records: '.sweep',
  finish: 'training',
};

/** Run options whose values the grid takes from the checked run configuration (absolute paths). */
const FROM_CONFIG = new Set(['data', 'split-file', 'encoder-weights']);

/**
 * The λ grid in `dir` as a sweep: `config`'s model and seed, every λ of `lambdas`, one split, no
 * retry; `values` (the command's run options) supply the rest of each task's training options.
 */
export function lambdaGridSweep(dir: string, lambdas: readonly number[], values: OptionValues, config: RunConfig): Sweep {
  const train: SweepSpec['train'] = {};
  for (const [name, option] of Object.entries(RUN_OPTIONS)) {
    const value = values[name];
    if ((SET_BY_SWEEP[name] && name !== 'fold') || FROM_CONFIG.has(name) || value === undefined || value === option.default) continue;
    train[camelKey(name)] = value;
  }
  if (config.data.kind === 'busi') train.data = config.data.dir;
  if (config.splitFile) train.splitFile = config.splitFile;
  if (config.encoderWeights) train.encoderWeights = config.encoderWeights;
  const spec: SweepSpec = {
    models: [{ decoder: config.decoder, encoder: config.encoder }],
    lambdas: [...lambdas],
    folds: 1,
    seeds: [config.seed],
    dataSeed: config.data.kind === 'synthetic' ? config.data.seed : config.seed,
    retries: 0,
    train,
  };
  return { dir, id: sweepId(spec), spec, tasks: expandSweep(spec), layout: LAMBDA_GRID_LAYOUT };
}

/** How {@link runLambdaGrid} trains. */
export interface LambdaGridRunOptions {
  /** Retrain every λ, replacing its run folder. Otherwise finished λ are kept and the others resume. */
  force: boolean;
  /** No progress bars. */
  quiet: boolean;
  /** Backend name (initialised by the caller). */
  backend: string;
}

/** Trains the grid's λ one after another in this process, printing to `ctx`; the first failure throws. */
export async function runLambdaGrid(sweep: Sweep, options: LambdaGridRunOptions, ctx: CliContext): Promise<void> {
  fs.mkdirSync(sweep.dir, { recursive: true });
  for (const [k, task] of sweep.tasks.entries()) {
    ctx.stdout.write(`\n[${k + 1}/${sweep.tasks.length}] λ = ${task.lambda}: ${taskDir(sweep, task)}\n`);
    // A rerun tries a λ that failed before again: the grid has no retry budget to use up.
    const o = await runTask(sweep, task, { via: 'local', backend: options.backend, retryFailed: true, restart: options.force, output: { ctx, quiet: options.quiet } });
    if (o.outcome === 'skipped') ctx.stdout.write('  finished earlier; kept\n');
    else if (o.outcome !== 'complete') throw new Error(o.error ?? `λ = ${task.lambda}: training ${o.outcome}`);
  }
}

/** The validation scores of the grid's table and plot. */
export const LAMBDA_SCORES = ['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1', 'val_loss'] as const;

/** One λ's row of the grid table. */
export interface LambdaRow {
  lambda: number;
  /** Its run folder, relative to the grid folder. */
  run: string;
  bestEpoch: number | null;
  /** The best epoch's validation scores. */
  scores: Record<string, number | null>;
}

/** `lambda.json`: the monitor that picked each run's best epoch and a row per λ, by λ. */
export interface LambdaTable {
  monitor: string;
  rows: LambdaRow[];
}

/** Reads every λ's best-epoch validation scores from its run's metrics.json; rows sorted by λ. */
export function collectLambdaGrid(sweep: Sweep, monitor: string): LambdaTable {
  const rows = sweep.tasks.map((task) => {
    const dir = taskDir(sweep, task);
    const metrics = readJson<{ bestEpoch: number | null; best: Record<string, number> | null }>(path.join(dir, RUN_FILES.metrics), 'run metrics');
    return {
      lambda: task.lambda,
      run: path.relative(sweep.dir, dir),
      bestEpoch: metrics.bestEpoch,
      scores: Object.fromEntries(LAMBDA_SCORES.map((s) => [s, metrics.best?.[s] ?? null])),
    };
  });
  return { monitor, rows: rows.sort((a, b) => a.lambda - b.lambda) };
}

/** The table as Markdown. */
export function lambdaTableMarkdown(table: LambdaTable): string {
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(4));
  return [
    `# Validation scores against λ (best epoch by ${table.monitor})`,
    '',
    `| λ | ${LAMBDA_SCORES.join(' | ')} | best epoch |`,
    `|---|${LAMBDA_SCORES.map(() => '---').join('|')}|---|`,
    ...table.rows.map((r) => `| ${r.lambda} | ${LAMBDA_SCORES.map((s) => f(r.scores[s])).join(' | ')} | ${r.bestEpoch ?? '-'} |`),
    '',
  ].join('\n');
}

/** Writes lambda.json, lambda.md and lambda-scores.svg/.png (Dice, IoU, accuracy, macro F1 against λ) into the grid folder. */
export async function writeLambdaGrid(sweep: Sweep, table: LambdaTable): Promise<void> {
  writeJsonAtomic(path.join(sweep.dir, 'lambda.json'), table);
  writeFileAtomic(path.join(sweep.dir, 'lambda.md'), lambdaTableMarkdown(table));
  const x = table.rows.map((r) => r.lambda);
  const series = (['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1'] as const).map((s) => ({ name: s.slice(4), x, y: table.rows.map((r) => r.scores[s] ?? NaN) }));
  await writeChart(path.join(sweep.dir, 'lambda-scores'), lineChartSvg(series, { title: 'Validation scores against λ', xLabel: 'λ (weight of the Dice loss)', yLabel: 'score' }));
}
