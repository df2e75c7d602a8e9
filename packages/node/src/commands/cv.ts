import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { CV_FILES, cvRun, type CvConfig } from '../runs/cv-run';
import type { TtaMode } from '../runs/predictor';
import { isNonEmptyDir, readJson } from '../runs/run-folder';
import { runVersions } from '../version';
import { RUN_OPTIONS, runConfigFromOptions } from '../runs/run-options';
import { initTrainingBackend } from '../runs/training-memory';

export const cvCommand: Command = {
  name: 'cv',
  summary: 'Stratified, grouped k-fold cross-validation with a fold ensemble scored on a held-out test part',
  description: [
    'Holds out --test-fraction of the images (stratified; on BUSI grouped by near-duplicates), deals the',
    'rest into --folds folds (stratified, grouped), and trains fold-<j>/ for every fold: a complete,',
    'resumable run folder that trains on the other folds, picks its best epoch on fold j and is scored',
    'on fold j (fold-<j>/evaluation/). The ensemble of the fold models (mean of their probabilities;',
    '--tta flip adds the mirrored input) is then scored on the test part (ensemble/, with 95 % bootstrap',
    'intervals). summary.json and summary.md list the per-fold numbers and their mean ± sd.',
    'cv.json holds the settings and cv-split.json the test ids, the fold of every image and the group ids.',
    'Takes every busi train option (--val-fraction, --split-file and --fold do not apply). Cost: --folds',
    'training runs plus one evaluation each.',
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Cross-validation folder (required)' },
    folds: { type: 'int', default: 5, min: 2, max: 20, description: 'Number of folds' },
    tta: { type: 'string', default: 'none', choices: ['none', 'flip'], description: "Test-time augmentation of the ensemble's evaluation" },
    ...RUN_OPTIONS,
    force: { type: 'boolean', short: 'f', description: 'Replace a non-empty --out' },
    resume: { type: 'boolean', description: 'Keep finished folds, resume the others from their checkpoints (settings from cv.json)' },
  },
  run: runCv,
};

async function runCv(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi cv: unexpected argument '${positionals[0]}' (options only; see --help)`);
  if (!v.out) throw new UsageError('busi cv: --out <folder> is required');
  if (v['split-file'] !== undefined) throw new UsageError('busi cv: --split-file does not apply; the folds are made here (see busi train --split-file for one fold)');
  const dir = path.resolve(ctx.cwd, v.out as string);
  let config: CvConfig;
  if (v.resume) {
    if (v.force) throw new UsageError('busi cv: give --resume or --force, not both');
    const file = path.join(dir, CV_FILES.config);
    if (!fs.existsSync(file)) throw new UsageError(`busi cv --resume: '${dir}' is not a cross-validation folder (no ${CV_FILES.config})`);
    config = readJson<CvConfig>(file, 'cross-validation config');
    ctx.stdout.write(`resuming '${dir}' with its cv.json (other options on the command line are ignored)\n`);
  } else {
    if (isNonEmptyDir(dir) && !v.force) throw new UsageError(`busi cv: '${dir}' exists and is not empty; pass --force to replace it or --resume to continue it`);
    const run = runConfigFromOptions(v, ctx, 'cv');
    if (run.testFraction === 0) ctx.stdout.write('--test-fraction 0: no held-out test part, so no ensemble evaluation\n');
    config = { format: 'busi-cv', version: 1, run, folds: v.folds as number, testFraction: run.testFraction ?? 0, tta: v.tta as TtaMode };
  }
  const backend = await initTrainingBackend(config.run, v.backend as BackendChoice);
  ctx.stdout.write(`${backend.summary}\n`);
  if (!v.resume) config.run = { ...config.run, backend: backend.backend, versions: await runVersions() };
  await cvRun(config, dir, { resume: !!v.resume, force: !!v.force, quiet: !!v.quiet, backend: backend.backend }, ctx);
  return 0;
}
