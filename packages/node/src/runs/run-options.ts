import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BUSI_CLASSES, decoders, encoders, listDecoders, listEncoders, pluralize } from '@busi/core';
import { resolveAugment } from '@busi/data';
import { DEFAULT_LAMBDA } from '@busi/losses';
import { UsageError, type CliContext, type OptionSpec, type OptionValues } from '../cli/args';
import { registerSlimResNet } from '../demo/slim-resnet';
import { decoderRegistryName, encoderRegistryName } from '../models/factory';
import type { DataSpec } from './data';
import { describeDecoderChannels, parseDecoderChannels } from './decoder-channels';
import type { NamedPath } from './output-guard';
import { DEFAULT_NORMALIZATION, monitorNames, type RunConfig } from './train-run';
import { backendOption } from '../cli/backend-option';

// The options that define a training run: the vocabulary of `busi train`, `busi cv`,
// `busi grid-lambda` and the `train` block of sweep files, and their one translation into a RunConfig.

/** The registered names of one kind for the help text, read from the registry (aliases in parentheses). */
function registeredNames(kind: 'encoder' | 'decoder'): string {
  registerSlimResNet();
  const entries = kind === 'encoder' ? encoders.catalogue() : decoders.catalogue();
  return entries.map((e) => (e.info.aliases?.length ? `${e.name} (${e.info.aliases.join(', ')})` : e.name)).join(', ');
}

/**
 * The paper's protocol, which a run follows unless told otherwise: the one home of these defaults
 * (the option table below, `busi train --help`, sweep files and the paper-448 benchmark read them).
 */
export const RUN_DEFAULTS = {
  /** Encoder (registry name). */
  encoder: 'resnet50',
  /** Decoder (registry name). */
  decoder: 'unet',
  /** Square input size in pixels. */
  size: 448,
  /** λ of L = λ·Dice + (1-λ)·Focal: the loss's own default. */
  lambda: DEFAULT_LAMBDA,
  /** Optimizer, with PyTorch semantics. */
  optimizer: 'adam',
  /** Learning rate. */
  lr: 1e-4,
  /** Weight decay (L2 for adam). */
  weightDecay: 1e-5,
  /** Images per optimizer step. */
  batchSize: 8,
  /** Epochs. */
  epochs: 50,
  /** Dropout of the classification head. */
  dropout: 0.5,
  /** Seed of split, initialisation, shuffling, augmentation and dropout. */
  seed: 42,
  /** Validation share of all images (picks the best epoch). */
  valFraction: 0.1,
  /** Test share of all images (scored once at the end). */
  testFraction: 0.2,
  /** Validation quantity picking the best epoch. */
  monitor: 'val_dice',
} as const;

/** {@link RUN_DEFAULTS} in one sentence, for help texts. */
export function describeRunDefaults(): string {
  const d = RUN_DEFAULTS;
  const pct = (x: number) => Math.round(x * 100);
  return (
    `${d.size}x${d.size}, λ ${d.lambda}, ${d.optimizer === 'adam' ? 'Adam' : 'AdamW'} lr ${d.lr.toExponential()} with weight decay ${d.weightDecay.toExponential()}, ` +
    `batch ${d.batchSize}, ${pluralize(d.epochs, 'epoch')}, stratified ${pct(1 - d.valFraction - d.testFraction)}/${pct(d.valFraction)}/${pct(d.testFraction)} % split, ` +
    `${d.encoder} + ${d.decoder}, seed ${d.seed}, best epoch by ${d.monitor}`
  );
}

/** Options shared by `busi train`, `busi cv` and `busi grid-lambda` (and sweep files' `train`): everything that defines a run. */
export const RUN_OPTIONS: Record<string, OptionSpec> = {
  data: { type: 'string', short: 'd', valueName: 'DIR', description: 'BUSI folder (holding benign/, malignant/, normal/ or Dataset_BUSI_with_GT/)' },
  synthetic: { type: 'int', min: 10, valueName: 'N', description: 'Train on N generated synthetic images instead of --data' },
  encoder: { type: 'string', default: RUN_DEFAULTS.encoder, description: `Encoder, by registry or smp name: ${registeredNames('encoder')}` },
  decoder: { type: 'string', default: RUN_DEFAULTS.decoder, description: `Decoder, by registry or smp class name: ${registeredNames('decoder')}` },
  'encoder-weights': { type: 'string', valueName: 'FILE', description: 'Pretrained (ImageNet) encoder weights as safetensors (see docs/pytorch-weights.md); default: random init' },
  'decoder-channels': {
    type: 'string',
    valueName: 'A,B,..',
    description: `Decoder widths (decoderChannels): one per decoder block where the decoder's default is a list, one number where it is a number (defaults: ${describeDecoderChannels()}; none: not settable)`,
  },
  dropout: { type: 'number', default: RUN_DEFAULTS.dropout, min: 0, max: 0.99, description: 'Dropout of the classification head' },
  size: { type: 'int', default: RUN_DEFAULTS.size, min: 16, max: 2048, description: 'Square input size in pixels (divisible by the output stride)' },
  lambda: { type: 'number', default: RUN_DEFAULTS.lambda, min: 0, max: 1, description: 'λ of L = λ·Dice + (1-λ)·Focal' },
  optimizer: { type: 'string', default: RUN_DEFAULTS.optimizer, choices: ['adam', 'adamw'], description: 'Optimizer (PyTorch semantics)' },
  lr: { type: 'number', default: RUN_DEFAULTS.lr, min: 0, description: 'Learning rate' },
  'weight-decay': { type: 'number', default: RUN_DEFAULTS.weightDecay, min: 0, description: 'Weight decay (adam: L2 as torch.optim.Adam; adamw: decoupled)' },
  'batch-size': { type: 'int', short: 'b', default: RUN_DEFAULTS.batchSize, min: 1, description: 'Images per optimizer step' },
  'micro-batch': { type: 'int', min: 1, description: 'Images per forward/backward pass (gradient accumulation; default: the batch size)' },
  epochs: { type: 'int', short: 'e', default: RUN_DEFAULTS.epochs, min: 1, description: 'Epochs (with --resume: may extend the run)' },
  'split-file': { type: 'string', valueName: 'FILE', description: "Use this split (a busi split JSON: writeSplitFile's, or another run's split.json) instead of generating one" },
  fold: { type: 'int', default: 0, min: 0, description: 'Fold of a k-fold --split-file (0-based)' },
  'val-fraction': { type: 'number', default: RUN_DEFAULTS.valFraction, min: 0.01, max: 0.9, description: 'Validation share of all images: picks the best epoch (and early stopping)' },
  'test-fraction': { type: 'number', default: RUN_DEFAULTS.testFraction, min: 0, max: 0.9, description: 'Test share of all images, scored only at the end (0: a two-way train/validation split, reported on validation)' },
  'group-duplicates': { type: 'boolean', default: true, description: 'Keep near-duplicate BUSI images (resized, re-encoded, cropped, marked copies) in one part of the split' },
  'no-group-duplicates': { type: 'boolean', description: 'Split without grouping duplicates (copies then leak across the parts)' },
  duplicates: { type: 'string', default: 'near', choices: ['near', 'exact'], description: 'Duplicates grouped: near-duplicates, or identical pixels only' },
  'exclude-cross-class': { type: 'boolean', description: 'Leave out every image of a duplicate group whose copies carry different labels' },
  seed: { type: 'int', default: RUN_DEFAULTS.seed, min: 0, description: 'Seed of split, initialisation, shuffling, augmentation and dropout' },
  patience: { type: 'int', default: 0, min: 0, description: 'Early stopping after N epochs without improvement of --monitor (0: off)' },
  monitor: { type: 'string', default: RUN_DEFAULTS.monitor, description: 'Validation quantity picking the best model (val_dice, val_loss, val_accuracy, val_macro_f1, ...)' },
  augment: { type: 'boolean', default: true, description: 'Seeded training augmentation: flip, small affine, brightness/contrast, speckle' },
  'no-augment': { type: 'boolean', description: 'No augmentation' },
  cache: { type: 'string', default: 'memory', choices: ['memory', 'disk', 'none'], description: 'Keep resized images in memory, in <out>/../.busi-cache, or not at all' },
  backend: backendOption(),
  quiet: { type: 'boolean', short: 'q', description: 'No progress bars' },
};

/** Checks the run options and turns them into a {@link RunConfig}; usage errors name the option. */
export function runConfigFromOptions(v: OptionValues, ctx: CliContext, cmd: string): RunConfig {
  registerSlimResNet();
  const data: DataSpec = dataSpec(v, ctx, cmd);
  const encoder = encoderRegistryName(v.encoder as string);
  if (!listEncoders().includes(encoder)) {
    throw new UsageError(`busi ${cmd}: unknown encoder '${String(v.encoder)}'; registered encoders: ${listEncoders().join(', ')}`);
  }
  const decoder = decoderRegistryName(v.decoder as string);
  if (!listDecoders().includes(decoder)) {
    throw new UsageError(`busi ${cmd}: unknown decoder '${String(v.decoder)}'; registered decoders: ${listDecoders().join(', ')}`);
  }
  const decoderChannels = v['decoder-channels'] === undefined ? null : parseDecoderChannels(String(v['decoder-channels']), decoder, encoder, cmd);
  const size = v.size as number;
  // Checked before any data is read; encoders reduce by 32 unless the decoder asks for less (DeepLabV3+: 16).
  const stride = decoders.info(decoder).encoderOutputStride ?? 32;
  if (size % stride !== 0) {
    const lo = Math.max(stride, Math.floor(size / stride) * stride);
    throw new UsageError(`busi ${cmd}: --size ${size} is not divisible by the output stride ${stride} of ${decoder}; nearest valid sizes: ${lo === size ? lo : `${lo} or ${lo + stride}`}`);
  }
  const batchSize = v['batch-size'] as number;
  const micro = (v['micro-batch'] as number | undefined) ?? batchSize;
  if (micro > batchSize) throw new UsageError(`busi ${cmd}: --micro-batch ${micro} is larger than --batch-size ${batchSize}`);
  const splitFile = v['split-file'] === undefined ? null : path.resolve(ctx.cwd, v['split-file'] as string);
  if (splitFile) requireFile(`busi ${cmd}: --split-file`, splitFile, 'a split file (.json)');
  const encoderWeights = v['encoder-weights'] === undefined ? null : path.resolve(ctx.cwd, v['encoder-weights'] as string);
  if (encoderWeights) requireFile(`busi ${cmd}: --encoder-weights file`, encoderWeights, 'a .safetensors file');
  const valFraction = v['val-fraction'] as number;
  const testFraction = (v['test-fraction'] as number | undefined) ?? 0;
  if (valFraction + testFraction >= 0.95) {
    throw new UsageError(`busi ${cmd}: --val-fraction ${valFraction} and --test-fraction ${testFraction} leave too little to train on (their sum must stay below 0.95)`);
  }
  if (v['exclude-cross-class'] && v['no-group-duplicates']) throw new UsageError(`busi ${cmd}: --exclude-cross-class needs the duplicate groups; drop --no-group-duplicates`);
  const monitor = v.monitor as string;
  const monitors = monitorNames(BUSI_CLASSES);
  if (!monitors.includes(monitor)) throw new UsageError(`busi ${cmd}: --monitor '${monitor}' is not a validation quantity; expected one of ${monitors.join(', ')}`);
  return {
    format: 'busi-run',
    version: 1,
    data,
    encoder,
    decoder,
    decoderChannels,
    encoderWeights,
    dropout: v.dropout as number,
    size,
    lambda: v.lambda as number,
    optimizer: v.optimizer as 'adam' | 'adamw',
    lr: v.lr as number,
    weightDecay: v['weight-decay'] as number,
    batchSize,
    microBatch: micro,
    epochs: v.epochs as number,
    valFraction: v['val-fraction'] as number,
    testFraction: v['test-fraction'] as number,
    groupDuplicates: !v['no-group-duplicates'] && v['group-duplicates'] !== false,
    duplicates: v.duplicates as 'near' | 'exact',
    excludeCrossClass: !!v['exclude-cross-class'],
    splitFile,
    fold: v.fold as number,
    seed: v.seed as number,
    patience: v.patience as number,
    monitor,
    augment: v['no-augment'] || v.augment === false ? null : resolveAugment(),
    cache: v.cache as RunConfig['cache'],
    normalization: DEFAULT_NORMALIZATION,
    classNames: [...BUSI_CLASSES],
    backend: '',
    versions: { tfjs: tf.version_core, node: process.version },
    created: new Date().toISOString(),
  };
}

/** The files and folders a run reads, for the output guard. */
export function runInputs(config: RunConfig): NamedPath[] {
  const inputs: NamedPath[] = [];
  if (config.data.kind === 'busi') inputs.push({ option: '--data', path: config.data.dir });
  if (config.splitFile) inputs.push({ option: '--split-file', path: config.splitFile });
  if (config.encoderWeights) inputs.push({ option: '--encoder-weights', path: config.encoderWeights });
  return inputs;
}

/** Throws a usage error unless `file` is an existing file, not a folder; `what` says what was expected. */
function requireFile(option: string, file: string, what: string): void {
  if (!fs.existsSync(file)) throw new UsageError(`${option} '${file}' not found`);
  if (fs.statSync(file).isDirectory()) throw new UsageError(`${option} '${file}' is a folder, expected ${what}`);
}

/** `--data DIR` or `--synthetic N` (exactly one). */
export function dataSpec(v: OptionValues, ctx: CliContext, cmd: string): DataSpec {
  if (v.data !== undefined && v.synthetic !== undefined) throw new UsageError(`busi ${cmd}: give --data or --synthetic, not both`);
  if (v.synthetic !== undefined) return { kind: 'synthetic', count: v.synthetic as number, seed: (v.seed as number | undefined) ?? RUN_DEFAULTS.seed };
  if (v.data === undefined) throw new UsageError(`busi ${cmd}: --data <BUSI folder> (or --synthetic N) is required`);
  const dir = path.resolve(ctx.cwd, v.data as string);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    const what = fs.existsSync(dir) ? 'is a file, not a folder' : 'not found';
    throw new UsageError(`busi ${cmd}: --data folder '${dir}' ${what} (expected the BUSI folder holding benign/, malignant/, normal/)`);
  }
  return { kind: 'busi', dir };
}
