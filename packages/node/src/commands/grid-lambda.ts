import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { lineChartSvg, writeChart } from '../report/plot';
import { RUN_FILES, isNonEmptyDir, readJson, writeJsonAtomic, type RunStatus } from '../runs/run-folder';
import { trainRun } from '../runs/train-run';
import { runVersions } from '../version';
import { outputConflict } from '../runs/output-guard';
import { RUN_OPTIONS, runConfigFromOptions, runInputs } from '../runs/run-options';

/** One λ's row of the grid table. */
export interface LambdaRow {
  lambda: number;
  run: string;
  bestEpoch: number | null;
  /** The best epoch's validation scores. */
  scores: Record<string, number | null>;
}

const SCORES = ['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1', 'val_loss'] as const;

export const gridLambdaCommand: Command = {
  name: 'grid-lambda',
  summary: 'Train one configuration for each λ and plot the validation scores against λ',
  description: [
    'Trains --out/lambda-<λ>/ for every λ of --lambdas (same split, seed and options; each a full run',
    'folder), then writes lambda.json, lambda.md and lambda-scores.svg/.png (best-epoch validation Dice,',
    'IoU, accuracy and macro F1 against λ). Re-running with --resume skips finished λ and resumes the',
    'others. Cost: one training run per λ (9 by default).',
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Folder of the runs and the plot (required)' },
    lambdas: { type: 'string', default: '0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9', valueName: 'L,L,..', description: 'λ values in [0, 1]' },
    ...RUN_OPTIONS,
    force: { type: 'boolean', short: 'f', description: "Retrain every λ, replacing the grid's runs, table and plot in --out (nothing else there is touched)" },
    resume: { type: 'boolean', description: 'Keep finished runs, resume the others' },
  },
  run: runGrid,
};

async function runGrid(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi grid-lambda: unexpected argument '${positionals[0]}'`);
  if (!v.out) throw new UsageError('busi grid-lambda: --out <folder> is required');
  const tokens = String(v.lambdas).split(',').map((s) => s.trim());
  // Number('') is 0: an empty item must not become λ = 0.
  const lambdas = tokens.map((t) => (t === '' ? NaN : Number(t)));
  if (lambdas.some((l) => !(Number.isFinite(l) && l >= 0 && l <= 1))) {
    throw new UsageError(`busi grid-lambda: --lambdas must be numbers in [0, 1] separated by commas, e.g. 0.1,0.5,0.9; got '${String(v.lambdas)}'`);
  }
  if (new Set(lambdas).size !== lambdas.length) throw new UsageError(`busi grid-lambda: --lambdas has a repeated value: '${String(v.lambdas)}'`);
  const out = path.resolve(ctx.cwd, v.out as string);
  if (isNonEmptyDir(out) && !v.force && !v.resume) {
    throw new UsageError(`busi grid-lambda: '${out}' exists and is not empty; pass --force to replace it or --resume to continue it`);
  }
  const base = runConfigFromOptions(v, ctx, 'grid-lambda');
  const conflict = outputConflict({ option: '--out', path: out }, runInputs(base));
  if (conflict) throw new UsageError(`busi grid-lambda: ${conflict}`);
  const backend = await initBackend({ backend: v.backend as BackendChoice, log: false });
  ctx.stdout.write(`${backend.summary}\n`);
  base.versions = await runVersions();
  // --force replaces only what the grid writes (its lambda-<λ> runs, each under its lock, and its
  // table and plot); anything else in --out stays.
  fs.mkdirSync(out, { recursive: true });
  const rows: LambdaRow[] = [];
  for (const [k, lambda] of lambdas.entries()) {
    const dir = path.join(out, `lambda-${lambda}`);
    const statusFile = path.join(dir, RUN_FILES.status);
    const st = fs.existsSync(statusFile) ? readJson<RunStatus>(statusFile) : null;
    ctx.stdout.write(`\n[${k + 1}/${lambdas.length}] λ = ${lambda}: ${dir}\n`);
    if (v.force || st?.status !== 'complete') {
      const resume = !v.force && st !== null && fs.existsSync(path.join(dir, RUN_FILES.config));
      await trainRun({ ...base, lambda, backend: backend.backend }, dir, { resume, force: !resume, quiet: !!v.quiet, backend: backend.backend }, ctx);
    } else ctx.stdout.write('  finished earlier; kept\n');
    const metrics = readJson<{ bestEpoch: number | null; best: Record<string, number> | null }>(path.join(dir, RUN_FILES.metrics), 'run metrics');
    rows.push({
      lambda,
      run: path.relative(out, dir),
      bestEpoch: metrics.bestEpoch,
      scores: Object.fromEntries(SCORES.map((s) => [s, metrics.best?.[s] ?? null])),
    });
  }
  rows.sort((a, b) => a.lambda - b.lambda);
  writeJsonAtomic(path.join(out, 'lambda.json'), { monitor: base.monitor, rows });
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(4));
  const md = [
    `# Validation scores against λ (best epoch by ${base.monitor})`,
    '',
    `| λ | ${SCORES.join(' | ')} | best epoch |`,
    `|---|${SCORES.map(() => '---').join('|')}|---|`,
    ...rows.map((r) => `| ${r.lambda} | ${SCORES.map((s) => f(r.scores[s])).join(' | ')} | ${r.bestEpoch ?? '-'} |`),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'lambda.md'), md);
  const x = rows.map((r) => r.lambda);
  const series = (['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1'] as const).map((s) => ({ name: s.slice(4), x, y: rows.map((r) => r.scores[s] ?? NaN) }));
  await writeChart(path.join(out, 'lambda-scores'), lineChartSvg(series, { title: 'Validation scores against λ', xLabel: 'λ (weight of the Dice loss)', yLabel: 'score' }));
  ctx.stdout.write(`\n${md}\nwrote lambda.json, lambda.md, lambda-scores.svg and lambda-scores.png to ${out}\n`);
  return 0;
}
