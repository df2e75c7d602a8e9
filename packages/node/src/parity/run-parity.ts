import * as fs from 'node:fs';
import * as path from 'node:path';
import '@busi/backbones';
import '@busi/decoders';
import {
  MultiTaskModel,
  decoders,
  encoders,
  runParityCheck,
  type ParityFixtureJson,
  type ParityReport,
} from '@busi/core';
import { BACKEND_CHOICES, type BackendChoice } from '@busi/kernels';

/**
 * Registry names for a fixture's smp decoder class and encoder name, or null for each part that is
 * not registered. smp's names are registry names or aliases, so the registry resolves them.
 */
export function registryNames(
  smpDecoder: string,
  smpEncoder: string,
): {
  /** Canonical decoder name, or null when no decoder answers to `smpDecoder`. */
  decoder: string | null;
  /** Canonical encoder name, or null when no encoder answers to `smpEncoder`. */
  encoder: string | null;
} {
  return {
    decoder: decoders.has(smpDecoder) ? decoders.resolve(smpDecoder) : null,
    encoder: encoders.has(smpEncoder) ? encoders.resolve(smpEncoder) : null,
  };
}

/**
 * The reference model for a fixture, with every random element off as in the reference's
 * training pass: the encoder's and decoder's registered `deterministicArgs` (EfficientNet
 * drop-connect 0, decoder dropout 0) and classification-head dropout 0. A decoder variant's
 * arguments (`Unet-scse`) come from the fixture's `decoder_kwargs` unless given.
 */
export function buildParityModel(
  decoder: string,
  encoder: string,
  json?: Pick<ParityFixtureJson, 'outputs' | 'decoder_kwargs'>,
  decoderArgs: Record<string, unknown> = smpDecoderArgs(json?.decoder_kwargs),
): MultiTaskModel {
  return new MultiTaskModel({
    encoder: { ...encoders.info(encoder).deterministicArgs, name: encoder },
    decoder: { ...decoderArgs, ...decoders.info(decoder).deterministicArgs, name: decoder },
    classes: json?.outputs['eval.label']?.shape[1] ?? 3,
    segmentationClasses: json?.outputs['eval.mask']?.shape[1] ?? 1,
    classificationHead: { dropout: 0 },
  });
}

/**
 * busi decoder arguments for smp constructor arguments: smp prefixes the decoder's options with
 * `decoder_` and busi spells the rest in camelCase (`decoder_attention_type` → `attentionType`).
 */
export function smpDecoderArgs(kwargs: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kwargs)) {
    const bare = key.replace(/^decoder_/, '');
    out[bare.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

/** Options of {@link runParityDir}. */
export interface RunParityOptions {
  /** Only fixtures whose model name contains one of these strings. */
  only?: string[];
  /** Compare encoder stages. Default true. */
  encoder?: boolean;
  /** Run the training-mode pass. Default true. */
  train?: boolean;
  /** Compare gradient norms. Default true. */
  gradients?: boolean;
  /** The README's literal rule for exactly-zero gradients (see ParityCheckOptions.strictNoise). Default false. */
  strictNoise?: boolean;
  /** Ignore each fixture's own `tolerances` and compare at the README's tolerances (see ParityCheckOptions.readmeTolerances). Default false. */
  readmeTolerances?: boolean;
  /** Called with each model's result line as soon as it is known. */
  onResult?: (result: ParityRunResult) => void;
  /** Called with progress lines (per stage). */
  onProgress?: (message: string) => void;
}

/** The outcome for one fixture. */
export interface ParityRunResult {
  /** The fixture's name, e.g. `FPN__resnet50`. */
  model: string;
  /**
   * 'pass' or 'fail' by the comparison; 'skipped' when its encoder or decoder is not registered; 'error' when
   * the fixture could not be read or the model not built or run.
   */
  status: 'pass' | 'fail' | 'skipped' | 'error';
  /** One line for a terminal. */
  line: string;
  /** The full comparison, present for 'pass' and 'fail'. */
  report?: ParityReport;
}

/** The `<Decoder>__<encoder>.json` fixtures of a directory (also decoder variants, `Unet-scse__resnet50.json`), sorted. */
export function listParityFixtures(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`parity: fixtures directory '${dir}' does not exist`);
  return fs
    .readdirSync(dir)
    .filter((f) => /^[A-Za-z0-9]+(-[A-Za-z0-9]+)?__[^/]+\.json$/.test(f) && fs.existsSync(path.join(dir, f.replace(/\.json$/, '.safetensors'))))
    .sort();
}

/**
 * Runs the parity harness on every fixture of a directory: builds each model through the
 * registry, fills it, and compares it with the PyTorch reference. Models whose encoder or decoder
 * is not registered are reported as skipped. The tfjs backend is whatever is active.
 */
export async function runParityDir(dir: string, options: RunParityOptions = {}): Promise<ParityRunResult[]> {
  const results: ParityRunResult[] = [];
  const inputs = readInputs(dir);
  for (const file of listParityFixtures(dir)) {
    const name = file.replace(/\.json$/, '');
    if (options.only?.length && !options.only.some((o) => name.includes(o))) continue;
    const result = await runParityFixture(dir, name, options, inputs);
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/** `inputs.safetensors` of a fixtures folder, or undefined (the inputs are then generated from their formulas). */
function readInputs(dir: string): Uint8Array | undefined {
  const file = path.join(dir, 'inputs.safetensors');
  return fs.existsSync(file) ? new Uint8Array(fs.readFileSync(file)) : undefined;
}

/**
 * Runs the parity harness on one fixture (`<Decoder>__<encoder>`, the file name without `.json`)
 * of `dir`: resolves its smp names through the registry, builds and fills the model, compares it
 * with the reference and disposes it. Never throws: failures and errors are results.
 * @param inputs the folder's `inputs.safetensors` when already read (default: read it here).
 */
export async function runParityFixture(
  dir: string,
  name: string,
  options: Omit<RunParityOptions, 'only' | 'onResult'> = {},
  inputs: Uint8Array | undefined = readInputs(dir),
): Promise<ParityRunResult> {
  const file = `${name}.json`;
  let json: ParityFixtureJson;
  try {
    json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as ParityFixtureJson;
  } catch (e) {
    return { model: name, status: 'error', line: `${name}: ERROR reading ${file}: ${(e as Error).message}` };
  }
  const { decoder, encoder } = registryNames(json.smp_class ?? json.decoder, json.encoder);
  if (!decoder || !encoder) {
    const what = [!decoder && `decoder ${json.decoder}`, !encoder && `encoder ${json.encoder}`].filter(Boolean).join(', ');
    return { model: name, status: 'skipped', line: `${name}: skipped (not registered: ${what})` };
  }
  let model: MultiTaskModel | undefined;
  try {
    model = buildParityModel(decoder, encoder, json);
    const safetensors = new Uint8Array(fs.readFileSync(path.join(dir, `${name}.safetensors`)));
    // Yield between models so progress output is flushed.
    await new Promise((r) => setImmediate(r));
    const report = await runParityCheck(model, { json, safetensors, inputs }, {
      encoder: options.encoder,
      train: options.train,
      gradients: options.gradients,
      strictNoise: options.strictNoise,
      onProgress: options.onProgress,
      readmeTolerances: options.readmeTolerances,
    });
    return { model: name, status: report.pass ? 'pass' : 'fail', line: report.summary, report };
  } catch (e) {
    return { model: name, status: 'error', line: `${name}: ERROR ${(e as Error).message}` };
  } finally {
    model?.dispose();
  }
}

/** Usage text of the parity CLI. */
export const PARITY_USAGE = `usage: parity [dir=fixtures/parity] [--only A,B] [--no-gradients] [--no-train] [--no-encoder]
              [--strict-noise] [--readme-tolerances]
              [--backend ${BACKEND_CHOICES.join('|')}] [--json report.json] [--verbose]
dir: any folder of <Decoder>__<encoder> fixtures (fixtures/parity, fixtures/parity-zoo/encoders,
../shared/parity-zoo/decoders, ...); models whose decoder or encoder is not registered are skipped.
--backend webgpu: a GPU through WebGPU (docs/gpu.md); BUSI_WEBGPU_ICD=swiftshader runs it on the
software adapter.`;

/** Parsed command line of the parity CLI. */
export interface ParityCliArgs {
  /** Fixtures folder. */
  dir: string;
  /** Only these fixture names (`<Decoder>__<encoder>`). */
  only?: string[];
  /** Compare gradient norms. */
  gradients: boolean;
  /** Compare training-mode outputs. */
  train: boolean;
  /** Compare encoder stage samples. */
  encoder: boolean;
  /** Apply the README's literal tolerance to exactly-zero gradients. */
  strictNoise: boolean;
  /** Backend to run on. */
  backend: BackendChoice;
  /** Write the full report as JSON to this file. */
  json?: string;
  /** Print every check, not only one line per model. */
  verbose: boolean;
  /** Ignore the fixtures' own tolerance overrides (their `tolerances`): the README's tolerances only. */
  readmeTolerances: boolean;
}

export function parseParityArgs(argv: string[]): ParityCliArgs {
  const args: ParityCliArgs = { dir: 'fixtures/parity', gradients: true, train: true, encoder: true, strictNoise: false, backend: 'auto', verbose: false, readmeTolerances: false };
  let dirSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v == null) throw new Error(`${a} needs a value\n${PARITY_USAGE}`);
      return v;
    };
    if (a === '--only') args.only = value().split(',').filter(Boolean);
    else if (a === '--no-gradients') args.gradients = false;
    else if (a === '--no-train') args.train = false;
    else if (a === '--no-encoder') args.encoder = false;
    else if (a === '--strict-noise') args.strictNoise = true;
    else if (a === '--backend') {
      const b = value();
      if (!(BACKEND_CHOICES as readonly string[]).includes(b)) throw new Error(`--backend: unknown backend '${b}', expected one of ${BACKEND_CHOICES.join(', ')}\n${PARITY_USAGE}`);
      args.backend = b as BackendChoice;
    }
    else if (a === '--json') args.json = value();
    else if (a === '--readme-tolerances') args.readmeTolerances = true;
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--help' || a === '-h') throw new Error(PARITY_USAGE);
    else if (a.startsWith('-') || dirSet) throw new Error(`unexpected argument '${a}'\n${PARITY_USAGE}`);
    else {
      args.dir = a;
      dirSet = true;
    }
  }
  return args;
}

