import * as path from 'node:path';
import type { BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { RUN_OPTIONS, describeRunDefaults, runConfigFromOptions } from '../runs/run-options';
import { openTrainJob, runTrainJob } from '../runs/train-job';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a multi-task model on BUSI (or synthetic data) into a resumable run folder',
  description: [
    `Defaults are the paper's protocol: ${describeRunDefaults()}.`,
    'The run folder gets config.json, split.json, status.json, history.csv (one row per epoch),',
    'metrics.json, best-model/ (by --monitor), last-model/, checkpoint/ (model + trainer state, every',
    'epoch, written atomically) and evaluation/ (report.html on the test part; on validation with --test-fraction 0).',
    'The split is stratified, seeded and, on BUSI, grouped by near-duplicates (train 70 %, validation 10 %, test 20 %):',
    'the best epoch is picked on validation, the numbers are reported on test; split.json records the group ids.',
    'A killed run continues with --resume (its config.json is used; --epochs may extend it); the first',
    'Ctrl-C finishes the current batch and saves a mid-epoch checkpoint.',
    'Cost without libtensorflow (2 cores): with the native kernels (busi build-native) a 448x448 batch-8 step of',
    'Unet/ResNet-50 takes ~25 s with --micro-batch 2 (~35 min per BUSI epoch); on WebAssembly alone ~3 minutes',
    'with --micro-batch 1. Under --backend auto, a step too large for the 4 GiB wasm heap (estimated at the start)',
    'runs on the native backend (tensors in ordinary memory; needs the addon), and the backend line says so.',
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
  const job = openTrainJob({
    dir: path.resolve(ctx.cwd, v.out as string),
    resume: !!v.resume,
    force: !!v.force,
    newConfig: () => runConfigFromOptions(v, ctx, 'train'),
  });
  const result = await runTrainJob(
    job,
    {
      // parseArgs fills in the default, so only another number asks to extend a resumed run.
      epochs: v.epochs === RUN_OPTIONS.epochs.default ? undefined : (v.epochs as number),
      maxEpochsThisRun: v['max-epochs-this-run'] as number | undefined,
      report: !!v.report && !v['no-report'],
      quiet: !!v.quiet,
      backend: v.backend as BackendChoice,
      stopOnSigint: true,
    },
    ctx,
  );
  return result.interrupted ? 130 : 0;
}
