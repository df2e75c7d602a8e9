import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { evaluateFinishedRun } from '../runs/evaluate-run';
import { RUN_FILES, isNonEmptyDir, readJson, writeJsonAtomic, type RunStatus } from '../runs/run-folder';
import { loadData } from '../runs/data';
import { acquireRunLock, type RunLock } from '../runs/run-lock';
import { outputConflict } from '../runs/output-guard';
import { readRunSplit } from '../runs/run-split';
import { readRunConfig, trainRun, type RunConfig } from '../runs/train-run';
import { runVersions } from '../version';
import { RUN_OPTIONS, runConfigFromOptions, runInputs } from '../runs/run-options';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a multi-task model on BUSI (or synthetic data) into a resumable run folder',
  description: [
    "Defaults are the paper's protocol: 448x448, λ 0.7, Adam lr 1e-4 with weight decay 1e-5, batch 8,",
    '50 epochs, stratified 8:2 split, resnet50 + unet, seed 42.',
    'The run folder gets config.json, split.json, status.json, history.csv (one row per epoch),',
    'metrics.json, best-model/ (by --monitor), last-model/, checkpoint/ (model + trainer state, every',
    'epoch, written atomically) and evaluation/ (report.html on the test part; on validation with --test-fraction 0).',
    'The split is stratified, seeded and, on BUSI, grouped by near-duplicates (train 70 %, validation 10 %, test 20 %):',
    'the best epoch is picked on validation, the numbers are reported on test; split.json records the group ids.',
    'A killed run continues with --resume (its config.json is used; --epochs may extend it); the first',
    'Ctrl-C finishes the current batch and saves a mid-epoch checkpoint.',
    'Cost without libtensorflow (2 cores): with the native kernels (busi build-native) a 448x448 batch-8 step of',
    'Unet/ResNet-50 takes ~25 s with --micro-batch 2 (~35 min per BUSI epoch); on WebAssembly alone ~3 minutes',
    'with --micro-batch 1. The 4 GiB wasm heap limits the micro-batch (see docs/performance.md).',
    "Install @tensorflow/tfjs-node (or -gpu) for the paper's protocol at full speed: it is picked up automatically.",
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Run folder (required)' },
    ...RUN_OPTIONS,
    force: { type: 'boolean', short: 'f', description: 'Replace a non-empty run folder' },
    resume: { type: 'boolean', description: 'Continue the run in --out from its last checkpoint' },
    'max-epochs-this-run': { type: 'int', min: 1, description: 'Stop after N epochs in this session (resume later)' },
    report: { type: 'boolean', default: true, description: 'Evaluate the best model on the test part (validation in a two-way split) when training completes' },
    'no-report': { type: 'boolean', description: 'No report at the end' },
  },
  run: runTrain,
};

async function runTrain(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi train: unexpected argument '${positionals[0]}' (options only; see --help)`);
  if (!v.out) throw new UsageError('busi train: --out <run folder> is required');
  const dir = path.resolve(ctx.cwd, v.out as string);
  let config: RunConfig;
  let lock: RunLock | undefined;
  if (v.resume) {
    if (v.force) throw new UsageError('busi train: give --resume or --force, not both');
    if (!fs.existsSync(path.join(dir, RUN_FILES.config))) {
      throw new UsageError(`busi train --resume: '${dir}' is not a run folder (no ${RUN_FILES.config}); start it without --resume`);
    }
    config = readRunConfig(dir);
    lock = acquireRunLock(dir);
  } else {
    if (isNonEmptyDir(dir) && !v.force) {
      throw new UsageError(`busi train: run folder '${dir}' exists and is not empty; pass --force to replace it or --resume to continue it`);
    }
    config = runConfigFromOptions(v, ctx, 'train');
    const conflict = outputConflict({ option: '--out', path: dir }, runInputs(config));
    if (conflict) throw new UsageError(`busi train: ${conflict}`);
  }
  try {
    return await trainCommandLocked(v, ctx, dir, config, lock);
  } finally {
    lock?.release();
  }
}

async function trainCommandLocked(v: OptionValues, ctx: CliContext, dir: string, config: RunConfig, lock: RunLock | undefined): Promise<number> {
  if (v.resume) {
    const st = fs.existsSync(path.join(dir, RUN_FILES.status)) ? readJson<RunStatus>(path.join(dir, RUN_FILES.status)) : null;
    const asked = v.epochs as number;
    if (asked !== RUN_OPTIONS.epochs.default && asked !== config.epochs) {
      ctx.stdout.write(`extending the run from ${config.epochs} to ${asked} epochs\n`);
      config = { ...config, epochs: asked };
      writeJsonAtomic(path.join(dir, RUN_FILES.config), config);
    } else if (st?.status === 'complete') {
      const wantsReport = v.report && !v['no-report'];
      if (wantsReport && !fs.existsSync(path.join(dir, 'evaluation', 'report.html')) && fs.existsSync(path.join(dir, RUN_FILES.best))) {
        // Killed during the final evaluation: training is done, the report is not.
        ctx.stdout.write(`run '${dir}' is complete (${st.epochsDone} epochs) but has no evaluation/report.html; evaluating it now\n`);
        await initBackend({ backend: v.backend as BackendChoice, log: false });
        await finalReport(dir, config);
        return 0;
      }
      ctx.stdout.write(`run '${dir}' is complete (${st.epochsDone} epochs); pass --epochs N to train further\n`);
      return 0;
    }
    ctx.stdout.write(`resuming run '${dir}' with its config.json (other run options on the command line are ignored)\n`);
  }
  const backend = await initBackend({ backend: v.backend as BackendChoice, log: false });
  ctx.stdout.write(`${backend.summary}\n`);
  if (!v.resume) {
    config.backend = backend.backend;
    config.versions = await runVersions();
  }
  // First Ctrl-C: finish the batch, checkpoint mid-epoch and exit resumable; a second one quits at once.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    ctx.stderr.write('\nstopping after this batch and saving a checkpoint (Ctrl-C again quits without saving)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  let result: Awaited<ReturnType<typeof trainRun>>;
  try {
    result = await trainRun(
      config,
      dir,
      {
        resume: !!v.resume,
        force: !!v.force,
        maxEpochsThisRun: v['max-epochs-this-run'] as number | undefined,
        quiet: !!v.quiet,
        backend: backend.backend,
        signal: abort.signal,
        lock,
        keepLock: true,
      },
      ctx,
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
  try {
    if (abort.signal.aborted) return 130;
    if (result.status.status === 'complete' && v.report && !v['no-report']) await evaluateFinishedRun(dir, config, result, ctx);
    return 0;
  } finally {
    result.lock?.release();
  }

  async function finalReport(runDir: string, c: RunConfig): Promise<void> {
    const data = loadData(c.data, c.size);
    await evaluateFinishedRun(runDir, c, { data, split: readRunSplit(runDir, data) }, ctx);
  }
}
