import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { outputConflict } from '../runs/output-guard';
import { isNonEmptyDir } from '../runs/run-folder';
import { RUN_OPTIONS, runConfigFromOptions, runInputs } from '../runs/run-options';
import { collectLambdaGrid, lambdaGridSweep, lambdaTableMarkdown, runLambdaGrid, writeLambdaGrid } from '../sweep/lambda-grid';
import { PAPER_SWEEP_DEFAULTS } from '../sweep/spec';

export const gridLambdaCommand: Command = {
  name: 'grid-lambda',
  summary: 'Train one configuration for each λ and plot the validation scores against λ',
  description: [
    'Trains --out/lambda-<λ>/ for every λ of --lambdas (same split, seed and options; each a full run',
    'folder), then writes lambda.json, lambda.md and lambda-scores.svg/.png (best-epoch validation Dice,',
    'IoU, accuracy and macro F1 against λ). Re-running with --resume skips finished λ and resumes the',
    'others. Each λ is a task of the sweep engine (busi sweep), which keeps its attempt record in --out/.sweep/.',
    `Cost: one training run per λ (${PAPER_SWEEP_DEFAULTS.lambdas.length} by default).`,
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Folder of the runs and the plot (required)' },
    lambdas: { type: 'string', default: PAPER_SWEEP_DEFAULTS.lambdas.join(','), valueName: 'L,L,..', description: 'λ values in [0, 1]' },
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
  const sweep = lambdaGridSweep(out, lambdas, v, base);
  const backend = await initBackend({ backend: v.backend as BackendChoice, log: false });
  ctx.stdout.write(`${backend.summary}\n`);
  // --force replaces only what the grid writes (its lambda-<λ> runs, each under its lock, and its
  // table and plot); anything else in --out stays.
  await runLambdaGrid(sweep, { force: !!v.force, quiet: !!v.quiet, backend: backend.backend }, ctx);
  const table = collectLambdaGrid(sweep, base.monitor);
  await writeLambdaGrid(sweep, table);
  ctx.stdout.write(`\n${lambdaTableMarkdown(table)}\nwrote lambda.json, lambda.md, lambda-scores.svg and lambda-scores.png to ${out}\n`);
  return 0;
}
