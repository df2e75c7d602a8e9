import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, Rng, exportStateDict, loadStateDict, loadStateDictSafetensors, readSafetensors, saveStateDictSafetensors, writeSafetensors } from '@busi/core';
import { fileSystem } from '@busi/data';
import '../../src/demo/slim-resnet';
import { createModel } from '../../src/models/factory';

/**
 * Seeded fuzzers for the three readers of untrusted files: the safetensors reader, the state-dict
 * loader (safetensors → a model's weights) and the model folder loader (model.json + weights).
 * Each case mutates a valid input; the outcome must be a clean Error (or a correct result), never
 * a crash (anything not an Error, or a JavaScript internals error), a hang, a polluted
 * Object.prototype or (for the model loader) tensors left behind. Used by `npm run fuzz` (10,000+
 * cases each) and by a 500-case subset in npm test.
 */

/** What the cases of one target did. */
export interface FuzzCounts {
  target: string;
  cases: number;
  /** Inputs refused with a clear Error. */
  cleanErrors: number;
  /** Inputs accepted (and checked to be consistent). */
  accepted: number;
  /** Non-Error throws, JavaScript internals errors, or an accepted input with inconsistent results. */
  crashes: number;
  /** Cases slower than the hang limit. */
  hangs: number;
  /** Cases after which Object.prototype had changed. */
  pollution: number;
  /** Cases after which more tensors existed than before. */
  leaks: number;
  /** The first few crash descriptions, for the report. */
  examples: string[];
}

const HANG_MS = 5000;
const INTERNAL = /TypeError|RangeError|ReferenceError|Cannot read propert|is not a function|Maximum call stack|is not iterable/;

function counts(target: string): FuzzCounts {
  return { target, cases: 0, cleanErrors: 0, accepted: 0, crashes: 0, hangs: 0, pollution: 0, leaks: 0, examples: [] };
}

function protoSnapshot(): string {
  return Object.getOwnPropertyNames(Object.prototype).sort().join(',');
}

/** Runs one case and files its outcome; `check` validates an accepted result (throws if wrong). */
async function record<T>(c: FuzzCounts, label: string, run: () => Promise<T> | T, check: (r: T) => void): Promise<void> {
  const proto = protoSnapshot();
  const tensors = tf.memory().numTensors;
  const t0 = Date.now();
  c.cases++;
  let crash: string | null = null;
  try {
    const r = await run();
    try {
      check(r);
      c.accepted++;
    } catch (e) {
      crash = `accepted but inconsistent: ${(e as Error).message}`;
    }
  } catch (e) {
    if (!(e instanceof Error)) crash = `threw a non-Error: ${String(e)}`;
    else if (INTERNAL.test(`${e.name}: ${e.message}`)) crash = `${e.name}: ${e.message.slice(0, 200)}`;
    else c.cleanErrors++;
  }
  if (crash) {
    c.crashes++;
    if (c.examples.length < 20) c.examples.push(`${label}: ${crash}`);
  }
  if (Date.now() - t0 > HANG_MS) c.hangs++;
  if (protoSnapshot() !== proto || ({} as Record<string, unknown>).polluted !== undefined) {
    c.pollution++;
    delete (Object.prototype as Record<string, unknown>).polluted;
  }
  if (tf.memory().numTensors > tensors) c.leaks++;
}

// ---- mutations ------------------------------------------------------------------------------

const NASTY_STRINGS = ['constructor', 'toString', '__proto__', 'prototype', 'hasOwnProperty', '', 'F32 ', 'f32', 'I64', 'BOOL', '\u0000', 'x'.repeat(300)];
const NASTY_NUMBERS = [-1, 0, 1, 2 ** 31, 2 ** 53, 2 ** 64, -0, 0.5, 1e308, Number.MAX_SAFE_INTEGER];

function nastyValue(rng: Rng): unknown {
  switch (rng.nextInt(9)) {
    case 0:
      return NASTY_STRINGS[rng.nextInt(NASTY_STRINGS.length)];
    case 1:
      return NASTY_NUMBERS[rng.nextInt(NASTY_NUMBERS.length)];
    case 2:
      return null;
    case 3:
      return [];
    case 4:
      return {};
    case 5:
      return JSON.parse('{"__proto__": {"polluted": 1}}');
    case 6: {
      let v: unknown = 1;
      for (let i = 0; i < 2000; i++) v = [v];
      return v;
    }
    case 7:
      return [NASTY_NUMBERS[rng.nextInt(NASTY_NUMBERS.length)], rng.nextInt(5)];
    default:
      return true;
  }
}

/** Replaces, deletes or adds one value somewhere in a JSON tree (objects and arrays), in place. */
function mutateJson(root: unknown, rng: Rng): void {
  let node = root as Record<string, unknown> | unknown[];
  for (let depth = 0; depth < 12; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[rng.nextInt(keys.length)];
    const child = (node as Record<string, unknown>)[key];
    const descend = child !== null && typeof child === 'object' && rng.next() < 0.7;
    if (descend) {
      node = child as Record<string, unknown>;
      continue;
    }
    const op = rng.nextInt(4);
    if (op === 0 && !Array.isArray(node)) delete (node as Record<string, unknown>)[key];
    else if (op === 1) (node as Record<string, unknown>)[key] = nastyValue(rng);
    else if (op === 2 && !Array.isArray(node)) (node as Record<string, unknown>)[NASTY_STRINGS[rng.nextInt(NASTY_STRINGS.length)] || 'k'] = nastyValue(rng);
    else if (op === 3 && Array.isArray(node)) node.splice(rng.nextInt(node.length), 1);
    else (node as Record<string, unknown>)[key] = nastyValue(rng);
    return;
  }
}

function mutateBytes(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (rng.nextInt(4)) {
    case 0:
      return out.subarray(0, rng.nextInt(out.length));
    case 1: {
      for (let k = 1 + rng.nextInt(8); k > 0; k--) out[rng.nextInt(out.length)] = rng.nextInt(256);
      return out;
    }
    case 2: {
      const extra = new Uint8Array(1 + rng.nextInt(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.nextInt(256);
      const joined = new Uint8Array(out.length + extra.length);
      joined.set(out);
      joined.set(extra, out.length);
      return joined;
    }
    default: {
      // The 8-byte header length.
      new DataView(out.buffer).setBigUint64(0, BigInt(rng.nextInt(2 ** 31)) * BigInt(1 + rng.nextInt(4)), true);
      return out;
    }
  }
}

/** Splits a safetensors file into its header JSON and data bytes. */
function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A mutated safetensors file: byte-level damage, or a header edited as JSON. */
function mutateSafetensors(valid: Uint8Array, rng: Rng): Uint8Array {
  if (rng.next() < 0.4) return mutateBytes(valid, rng);
  const { header, data } = splitSafetensors(valid);
  for (let k = 1 + rng.nextInt(3); k > 0; k--) mutateJson(header, rng);
  return joinSafetensors(header, rng.next() < 0.2 ? data.subarray(0, rng.nextInt(data.length + 1)) : data);
}

// ---- targets --------------------------------------------------------------------------------

function checkParsed(f: ReturnType<typeof readSafetensors>): void {
  for (const [name, t] of f.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new Error(`tensor '${name}' has ${t.data.length} values for shape [${t.shape}]`);
  }
}

/** Fuzzes readSafetensors with `cases` mutations of a small valid file. */
export async function fuzzSafetensors(cases: number, seed: number): Promise<FuzzCounts> {
  const c = counts('safetensors reader');
  const valid = writeSafetensors(
    {
      'encoder.conv1.weight': { dtype: 'F32', shape: [2, 3, 3, 3], data: Array.from({ length: 54 }, (_, i) => i / 10) },
      'encoder.bn1.num_batches_tracked': { dtype: 'I64', shape: [], data: [3] },
      'head.bias': { dtype: 'F16', shape: [3], data: [0.5, -1, 2] },
      mask: { dtype: 'BOOL', shape: [4], data: [0, 1, 1, 0] },
    },
    { format: 'pt' },
  );
  const rng = new Rng(seed);
  for (let i = 0; i < cases; i++) {
    const bytes = mutateSafetensors(valid, rng);
    await record(c, `case ${i}`, () => readSafetensors(bytes), checkParsed);
  }
  return c;
}

/** A tiny model whose weights the state-dict and model-folder fuzzers load into. */
function tinyModel(): MultiTaskModel {
  return createModel({ encoder: 'slim-resnet', decoder: { name: 'unet', decoderChannels: [4, 4, 4, 4, 4] }, classes: 3 });
}

/** Fuzzes loadStateDictSafetensors + loadStateDict (strict) with mutations of a model's own state dict. */
export async function fuzzStateDict(cases: number, seed: number): Promise<FuzzCounts> {
  const c = counts('state-dict loader');
  const model = tinyModel();
  try {
    const valid = saveStateDictSafetensors(model);
    const names = [...exportStateDict(model).keys()];
    const rng = new Rng(seed);
    for (let i = 0; i < cases; i++) {
      let bytes: Uint8Array;
      if (rng.next() < 0.5) bytes = mutateSafetensors(valid, rng);
      else {
        // Well-formed files with the wrong content: renamed, dropped, reshaped or extra entries.
        const sd = loadStateDictSafetensors(valid);
        const name = names[rng.nextInt(names.length)];
        const e = sd.get(name)!;
        const op = rng.nextInt(4);
        if (op === 0) sd.delete(name);
        else if (op === 1) {
          sd.delete(name);
          sd.set(`${name}.x`, e);
        } else if (op === 2) sd.set(name, { shape: [e.data.length], data: e.data });
        else sd.set(`extra.${i}`, { shape: [1], data: new Float32Array([NaN]) });
        bytes = saveStateDictSafetensors(sd);
      }
      await record(
        c,
        `case ${i}`,
        () => loadStateDict(model, loadStateDictSafetensors(bytes)),
        (r) => {
          if (r.missing.length || r.unexpected.length || r.mismatched.length) throw new Error('strict load accepted a partial state dict');
        },
      );
    }
  } finally {
    model.dispose();
  }
  return c;
}

/** Options of the model folder fuzzer. */
export interface ModelFuzzOptions {
  /** Load only these case numbers (the others are generated, to keep the sequence, but not loaded). */
  only?: readonly number[];
  /** Copy the model.json and weights.bin of every crashing case into `<keep>/case-<i>/`. */
  keep?: string;
}

/** Fuzzes MultiTaskModel.load(fileSystem(dir)) with mutated model.json and weights files. */
export async function fuzzModelFolder(cases: number, seed: number, options: ModelFuzzOptions = {}): Promise<FuzzCounts> {
  const only = options.only ? new Set(options.only) : null;
  const c = counts('model folder loader');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-fuzz-model-'));
  try {
    const good = path.join(tmp, 'good');
    const model = tinyModel();
    await model.save(fileSystem(good));
    model.dispose();
    // A file outside the folder that a hostile manifest may try to read.
    fs.writeFileSync(path.join(tmp, 'secret.bin'), Buffer.alloc(fs.statSync(path.join(good, 'weights.bin')).size, 7));
    const json = fs.readFileSync(path.join(good, 'model.json'), 'utf8');
    const weights = fs.readFileSync(path.join(good, 'weights.bin'));
    const dir = path.join(tmp, 'case');
    const rng = new Rng(seed);
    const PATHS = ['../secret.bin', '/dev/zero', path.join(tmp, 'secret.bin'), './', '.', 'weights.bin/..', 'nope.bin', '..\\secret.bin', 'a/../../secret.bin'];
    for (let i = 0; i < cases; i++) {
      let text = json;
      let bin: Uint8Array = weights;
      const kind = rng.nextInt(10);
      if (kind < 5) {
        const j = JSON.parse(json);
        for (let k = 1 + rng.nextInt(2); k > 0; k--) mutateJson(rng.next() < 0.5 ? j.weightsManifest : j.modelTopology, rng);
        text = JSON.stringify(j);
      } else if (kind < 7) {
        const j = JSON.parse(json);
        j.weightsManifest[0].paths = [PATHS[rng.nextInt(PATHS.length)]];
        text = JSON.stringify(j);
      } else if (kind < 8) {
        const j = JSON.parse(json);
        j.modelTopology.config.layers.splice(1 + rng.nextInt(j.modelTopology.config.layers.length - 1), 1);
        text = JSON.stringify(j);
      } else if (kind < 9) bin = mutateBytes(weights, rng);
      else {
        const b = Buffer.from(json);
        for (let k = 1 + rng.nextInt(4); k > 0; k--) b[rng.nextInt(b.length)] = 32 + rng.nextInt(90);
        text = b.toString();
      }
      if (only && !only.has(i)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'model.json'), text);
      fs.writeFileSync(path.join(dir, 'weights.bin'), bin);
      const crashes = c.crashes;
      await record(
        c,
        `case ${i} (kind ${kind})`,
        () => MultiTaskModel.load(fileSystem(dir)),
        (m) => {
          // Accepted: it must be the good model's weights (nothing read from elsewhere).
          const first = m.model.getWeights()[0].dataSync();
          const same = Buffer.from(first.buffer, first.byteOffset, 16).equals(weights.subarray(0, 16));
          m.dispose();
          if (!same && bin === weights) throw new Error('loaded weights differ from weights.bin');
        },
      );
      if (options.keep && c.crashes > crashes) fs.cpSync(dir, path.join(options.keep, `case-${i}`), { recursive: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return c;
}

/** One line per target, as the fuzz script and the reliability doc print them. */
export function formatCounts(c: FuzzCounts): string {
  return (
    `${c.target}: ${c.cases} cases, ${c.cleanErrors} clean errors, ${c.accepted} accepted, ${c.crashes} crashes, ` +
    `${c.hangs} hangs, ${c.pollution} pollution, ${c.leaks} leaks${c.examples.length ? `\n  ${c.examples.join('\n  ')}` : ''}`
  );
}
