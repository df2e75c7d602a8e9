import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { loadData, type DataSpec } from '../runs/data';
import { EVALUATION_FILES, evaluateRun } from '../runs/evaluate-run';
import { foreignEntry } from '../runs/folder-swap';
import { outputConflict, type NamedPath } from '../runs/output-guard';
import { modelSettings, readModelDescription } from '../runs/model-settings';
import { readRunSplit, reportPart, selectionPart } from '../runs/run-split';
import type { TtaMode } from '../runs/predictor';
import { resolveModel } from '../runs/resolve-model';
import { RUN_DEFAULTS, dataSpec } from '../runs/run-options';
import { DEFAULT_LAMBDA } from '@busi/losses';
import { backendOption } from '../cli/backend-option';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: "Score a trained model with the paper's metrics; write metrics.json, metrics.md and report.html",
  description: [
    'MODEL is a run folder (its best-model/ is used, or --which last) or a model folder (model.json).',
    "Without --data/--synthetic a run is scored on its own test part (split.json; the validation part of a",
    "two-way split); with the run's own data too, unless --subset says otherwise. Writes metrics.json,",
    'metrics.md, report.html (tables, training',
    'curves from history.csv as inline SVG, a gallery image | ground truth | prediction), the curves as',
    'SVG and PNG and the gallery as PNG files.',
  ].join('\n'),
  options: {
    model: { type: 'string', short: 'm', valueName: 'DIR', description: 'Run folder or model folder (required)' },
    data: { type: 'string', short: 'd', valueName: 'DIR', description: 'BUSI folder to score on' },
    synthetic: { type: 'int', min: 1, valueName: 'N', description: 'Score on N synthetic images (seed --seed)' },
    seed: { type: 'int', min: 0, description: "Seed of --synthetic (default: the run's)" },
    subset: { type: 'string', default: 'auto', choices: ['auto', 'test', 'validation', 'all'], description: "Images of the run's own data: its test part (auto; validation in a two-way split), test, validation, or all" },
    tta: { type: 'string', default: 'none', choices: ['none', 'flip'], description: 'Test-time augmentation: flip averages the probabilities of each image and its mirror image' },
    spacing: { type: 'string', valueName: 'MM|SY,SX', description: 'mm per pixel of the scored (resized) masks, for HD95 and ASD in mm too' },
    'bootstrap-seed': { type: 'int', default: 0, min: 0, description: 'Seed of the bootstrap confidence intervals (1000 resamples)' },
    which: { type: 'string', default: 'best', choices: ['best', 'last'], description: 'Model of a run folder' },
    size: { type: 'int', min: 16, description: "Input size (default: the model card's, else the run's, else 448)" },
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Output folder (default: <run>/evaluation, else ./busi-evaluation)' },
    gallery: { type: 'int', default: 8, min: 0, description: 'Images in the gallery (spread over the classes)' },
    'batch-size': { type: 'int', short: 'b', default: 8, min: 1, description: 'Images per forward pass' },
    backend: backendOption(),
  },
  run: runEvaluate,
};

async function runEvaluate(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi evaluate: unexpected argument '${positionals[0]}'; give the model with --model`);
  if (!v.model) throw new UsageError('busi evaluate: --model <run folder or model folder> is required');
  const resolved = resolveModel(v.model as string, ctx.cwd, v.which as 'best' | 'last');
  const { config, runDir } = resolved;
  const warn = (s: string) => ctx.stderr.write(`busi evaluate: warning: ${s}\n`);
  const settings = modelSettings(readModelDescription(resolved.modelDir), config, { size: v.size as number | undefined }, warn, `model '${resolved.modelDir}'`);
  const size = settings.preprocessing.size[0];
  let spec: DataSpec;
  if (v.data === undefined && v.synthetic === undefined) {
    if (!config) throw new UsageError('busi evaluate: --data <BUSI folder> (or --synthetic N) is required for a model folder outside a run');
    spec = config.data;
  } else {
    const seeded = { ...v, seed: v.seed ?? (config?.data.kind === 'synthetic' ? config.data.seed : RUN_DEFAULTS.seed) };
    spec = dataSpec(seeded, ctx, 'evaluate');
  }
  const backend = await initBackend({ backend: v.backend as BackendChoice, log: false });
  ctx.stdout.write(`${backend.summary}\n`);
  const data = loadData(spec, size);
  const sameData = config !== null && runDir !== null && JSON.stringify(spec) === JSON.stringify(config.data) && size === config.size;
  const subset = v.subset as string;
  if ((subset === 'validation' || subset === 'test') && !sameData) throw new UsageError(`busi evaluate: --subset ${subset} needs a run folder and its own data (the split is the run's)`);
  let indices = Array.from({ length: data.source.size }, (_, i) => i);
  let part = 'all images';
  if (sameData && subset !== 'all') {
    const split = readRunSplit(runDir!, data);
    if (subset === 'test' && !split.validation) throw new UsageError("busi evaluate: --subset test: the run's split has no separate test part (a two-way split); use --subset validation");
    const chosen = subset === 'validation' ? { indices: selectionPart(split), name: 'validation' } : reportPart(split);
    indices = chosen.indices;
    part = `${chosen.name} part`;
  }
  const out = path.resolve(ctx.cwd, (v.out as string | undefined) ?? (runDir ? path.join(runDir, 'evaluation') : 'busi-evaluation'));
  const inputs: NamedPath[] = [{ option: '--model', path: resolved.modelDir }];
  if (spec.kind === 'busi') inputs.push({ option: '--data', path: spec.dir });
  const conflict = outputConflict({ option: '--out', path: out }, inputs);
  if (conflict) throw new UsageError(`busi evaluate: ${conflict}`);
  const foreign = foreignEntry(out, EVALUATION_FILES);
  if (foreign) throw new UsageError(`busi evaluate: --out '${out}' holds '${foreign}', which busi evaluate did not write; give an empty or new folder (nothing there is replaced)`);
  await evaluateRun({
    modelDir: resolved.modelDir,
    runDir,
    config: { normalization: settings.preprocessing.normalization, lambda: config?.lambda ?? DEFAULT_LAMBDA },
    data,
    indices,
    outDir: out,
    ctx,
    gallery: v.gallery as number,
    batchSize: v['batch-size'] as number,
    title: `Evaluation of ${path.basename(runDir ?? resolved.modelDir)} on ${part}`,
    tta: v.tta as TtaMode,
    spacing: parseSpacing(v.spacing as string | undefined, 'evaluate'),
    bootstrap: { seed: v['bootstrap-seed'] as number },
  });
  return 0;
}

/** `--spacing MM` (square pixels) or `--spacing SY,SX` (mm per pixel along rows and columns); undefined when absent. */
function parseSpacing(value: string | undefined, cmd: string): number | [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((x) => Number(x.trim()));
  if (!(parts.length === 1 || parts.length === 2) || parts.some((x) => !(Number.isFinite(x) && x > 0))) {
    throw new UsageError(`busi ${cmd}: --spacing must be mm per pixel, one positive number or two (rows,columns) such as 0.1,0.12; got '${value}'`);
  }
  return parts.length === 1 ? parts[0] : [parts[0], parts[1]];
}
