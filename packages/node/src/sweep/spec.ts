import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError, parseOptionValue, type OptionValues } from '../cli/args';
import { RUN_DEFAULTS, RUN_OPTIONS } from '../runs/run-options';
import { PAPER_MODELS, decoderRegistryName, encoderRegistryName } from '../models/factory';

/** One model of a sweep: registry names of its decoder and encoder. */
export interface SweepModel {
  /** Decoder registry name, e.g. 'unetplusplus'. */
  decoder: string;
  /** Encoder registry name, e.g. 'efficientnet-b4'. */
  encoder: string;
}

/** A sweep after defaults and checks: what `sweep.json` stores and every task is built from. */
export interface SweepSpec {
  /** Models, in file order. Default: the paper's 16 (4 decoders × 4 encoders). */
  models: SweepModel[];
  /** λ values of L = λ·Dice + (1-λ)·Focal. Default: the paper's Fig. 2 grid 0.1, 0.2, …, 0.9. */
  lambdas: number[];
  /** K of a stratified k-fold split (tasks for folds 0..K-1); 1: one seeded holdout split per seed (`busi train`'s). */
  folds: number;
  /** Seeds of initialisation, shuffling, augmentation and dropout (and of the holdout split when folds is 1). */
  seeds: number[];
  /** Seed of synthetic images and of the k-fold assignment: the same for every task, so seeds vary only training. */
  dataSeed: number;
  /** How often a failed task is tried again before it counts as failed (attempts = retries + 1). */
  retries: number;
  /** `busi train` options in camelCase as in the file (checked; relative paths made absolute). */
  train: Record<string, string | number | boolean>;
}

/** The fields of a {@link SweepSpec} that a sweep file may leave out, read-only (see {@link SweepSpec} for each). */
export type SweepDefaults = { readonly [K in Exclude<keyof SweepSpec, 'train'>]: Readonly<SweepSpec[K]> };

/** The paper's grid: what a sweep file does not say. `train` falls back to `busi train`'s defaults (the paper's protocol). */
export const PAPER_SWEEP_DEFAULTS: SweepDefaults = {
  models: PAPER_MODELS.map((m) => ({ decoder: m.decoder, encoder: m.encoder })),
  lambdas: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  folds: 1,
  seeds: [RUN_DEFAULTS.seed],
  dataSeed: RUN_DEFAULTS.seed,
  retries: 2,
};

/** Train options a sweep sets per task from its own lists, with the list that sets each. */
export const SET_BY_SWEEP: Readonly<Record<string, string>> = { encoder: 'models', decoder: 'models', lambda: 'lambdas', seed: 'seeds', fold: 'folds' };
/** Train options that hold a path (resolved against the sweep file's folder). */
const PATH_OPTIONS = new Set(['data', 'split-file', 'encoder-weights']);
const TOP_KEYS = ['models', 'lambdas', 'folds', 'seeds', 'dataSeed', 'retries', 'train'];

const kebab = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** `split-file` → `splitFile`: an option's key in a sweep file's `train`. */
export const camelKey = (option: string) => option.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** Reads a sweep file (`.json`, `.yaml` or `.yml`) and checks it; errors name the file and the key. */
export function readSweepFile(file: string): SweepSpec {
  if (!fs.existsSync(file)) throw new UsageError(`busi sweep: --config file '${file}' not found`);
  if (!fs.statSync(file).isFile()) throw new UsageError(`busi sweep: --config '${file}' is a folder, expected a sweep file (.json, .yaml or .yml)`);
  const text = fs.readFileSync(file, 'utf8');
  const ext = path.extname(file).toLowerCase();
  let raw: unknown;
  try {
    if (ext === '.json') raw = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') raw = parseYaml(text);
    else throw new Error(`unknown extension '${ext}' (expected .json, .yaml or .yml)`);
  } catch (e) {
    throw new UsageError(`busi sweep: sweep file '${file}' could not be read: ${(e as Error).message}`);
  }
  return parseSweepSpec(raw, `sweep file '${file}'`, path.dirname(path.resolve(file)));
}

/**
 * Checks a parsed sweep file and fills in the paper's defaults. `where` names the source in errors;
 * relative paths in `train` are resolved against `baseDir`.
 */
export function parseSweepSpec(raw: unknown, where: string, baseDir: string): SweepSpec {
  const fail = (msg: string): never => {
    throw new UsageError(`busi sweep: ${where}: ${msg}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('expected an object with models, lambdas, folds, seeds and train');
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!TOP_KEYS.includes(k)) fail(`unknown key '${k}'; known keys: ${TOP_KEYS.join(', ')}`);
  const d = PAPER_SWEEP_DEFAULTS;
  const models = obj.models === undefined ? d.models.map((m) => ({ ...m })) : parseModels(obj.models, fail);
  const lambdas = numberList(obj.lambdas ?? d.lambdas, 'lambdas', fail, (x) => x >= 0 && x <= 1, 'numbers in [0, 1]');
  const seeds = numberList(obj.seeds ?? d.seeds, 'seeds', fail, (x) => Number.isInteger(x) && x >= 0, 'integers >= 0');
  const folds = integer(obj.folds ?? d.folds, 'folds', 1, fail);
  const dataSeed = integer(obj.dataSeed ?? d.dataSeed, 'dataSeed', 0, fail);
  const retries = integer(obj.retries ?? d.retries, 'retries', 0, fail);
  const train = parseTrain(obj.train ?? {}, baseDir, fail);
  if (train.data === undefined && train.synthetic === undefined) fail('train.data (a BUSI folder) or train.synthetic (a number of images) is required');
  return { models, lambdas, folds, seeds, dataSeed, retries, train };
}

function parseModels(v: unknown, fail: (m: string) => never): SweepModel[] {
  if (!Array.isArray(v) || v.length === 0) fail('models must be a non-empty list of [decoder, encoder] pairs, e.g. [["unet", "resnet18"]]');
  const out = (v as unknown[]).map((m, i) => {
    if (Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === 'string')) return { decoder: decoderRegistryName(m[0]), encoder: encoderRegistryName(m[1]) };
    if (m && typeof m === 'object' && typeof (m as SweepModel).decoder === 'string' && typeof (m as SweepModel).encoder === 'string') {
      return { decoder: decoderRegistryName((m as SweepModel).decoder), encoder: encoderRegistryName((m as SweepModel).encoder) };
    }
    return fail(`models[${i}] must be a [decoder, encoder] pair or { decoder, encoder }; got ${JSON.stringify(m)}`);
  });
  const seen = new Set<string>();
  for (const m of out) {
    const key = `${m.decoder}/${m.encoder}`;
    if (seen.has(key)) fail(`models lists ${key} twice`);
    seen.add(key);
  }
  return out;
}

function numberList(v: unknown, key: string, fail: (m: string) => never, ok: (x: number) => boolean, what: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && ok(x))) {
    fail(`${key} must be a non-empty list of ${what}; got ${JSON.stringify(v)}`);
  }
  const list = v as number[];
  if (new Set(list).size !== list.length) fail(`${key} has a repeated value: ${JSON.stringify(list)}`);
  return [...list];
}

function integer(v: unknown, key: string, min: number, fail: (m: string) => never): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${key} must be an integer >= ${min}; got ${JSON.stringify(v)}`);
  return v as number;
}

function parseTrain(v: unknown, baseDir: string, fail: (m: string) => never): SweepSpec['train'] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail("train must be an object of busi train's options in camelCase, e.g. { \"epochs\": 2 }");
  const out: SweepSpec['train'] = {};
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const name = kebab(key);
    if (SET_BY_SWEEP[name]) fail(`train.${key} is set per task by the sweep's ${SET_BY_SWEEP[name]} list`);
    const spec = RUN_OPTIONS[name];
    if (!spec) fail(`train.${key} is not a busi train option; options: ${Object.keys(RUN_OPTIONS).filter((k) => !SET_BY_SWEEP[k]).map(camelKey).join(', ')}`);
    if (typeof value !== (spec.type === 'boolean' ? 'boolean' : spec.type === 'string' ? 'string' : 'number')) {
      fail(`train.${key} must be ${spec.type === 'boolean' ? 'true or false' : spec.type === 'string' ? 'a string' : 'a number'}; got ${JSON.stringify(value)}`);
    }
    try {
      parseOptionValue('sweep', name, spec, typeof value === 'boolean' ? value : String(value));
    } catch (e) {
      fail((e as Error).message.replace(/^busi sweep: --[\w-]+/, `train.${key}`));
    }
    out[key] = PATH_OPTIONS.has(name) ? path.resolve(baseDir, value as string) : (value as string | number | boolean);
  }
  return out;
}

/**
 * The `busi train` option values (kebab-case, defaults filled in) of one task: the sweep's train
 * options plus the task's model, λ, seed and fold.
 */
export function trainOptionValues(spec: SweepSpec, task: { decoder: string; encoder: string; lambda: number; seed: number; fold: number }): OptionValues {
  const values: OptionValues = Object.fromEntries(Object.entries(RUN_OPTIONS).map(([k, s]) => [k, s.default]));
  for (const [key, value] of Object.entries(spec.train)) values[kebab(key)] = value;
  // A one-split sweep may train one fold of a k-fold split file (busi grid-lambda --split-file F --fold j).
  const fold = spec.folds > 1 ? task.fold : (values.fold as number);
  return { ...values, decoder: task.decoder, encoder: task.encoder, lambda: task.lambda, seed: task.seed, fold, quiet: true };
}
