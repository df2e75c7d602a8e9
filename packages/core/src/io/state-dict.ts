import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  fromTorchPermutation,
  isTorchMappable,
  toTorchPermutation,
  torchShape,
  type TorchMappable,
  type TorchParam,
} from '../layers/torch-params';
import { parityFill } from '../parity/fill';
import { readSafetensors, writeSafetensors, type SafetensorsWriteEntry } from './safetensors';

/** One PyTorch state-dict tensor: PyTorch shape and C-order float32 values. */
export interface StateDictEntry {
  /** PyTorch shape, e.g. `[out, in/groups, kh, kw]` for a conv weight. */
  shape: number[];
  /** The values in C order (last axis fastest); as many as the shape holds. */
  data: Float32Array;
}

/** A PyTorch state dict: PyTorch names and layouts, in order. */
export type StateDict = Map<string, StateDictEntry>;

/** Anything whose weights have PyTorch names: a {@link MultiTaskModel}-like object, a tfjs model, or a parameter list. */
export type StateDictTarget = TorchMappable | tfl.LayersModel | TorchParam[];

/** Options of {@link loadStateDict}. */
export interface LoadStateDictOptions {
  /** Throw (before changing any weight) when a name is missing, unexpected or has the wrong shape. Default true. */
  strict?: boolean;
  /**
   * Names left out of the comparison on both sides. A string matches a name exactly, or as a
   * prefix when it ends with '.'; a RegExp is tested against the name. Incoming names are
   * matched before and after `prefix`/`rename`.
   */
  ignore?: (string | RegExp)[];
  /** Prepended to every incoming name (e.g. 'encoder.' to load a bare torchvision backbone), before `rename`. */
  prefix?: string;
  /**
   * Maps an incoming name to this model's PyTorch name (e.g. strip timm's `encoder.model.`);
   * return null to drop the entry.
   */
  rename?: (torchName: string) => string | null;
}

/** A tensor whose shape differs between the model and the state dict (PyTorch shapes). */
export interface ShapeMismatch {
  /** The model's PyTorch name of the weight (after `prefix` and `rename`). */
  name: string;
  /** The model's shape in PyTorch layout. */
  expected: number[];
  /** The state dict's shape. */
  got: number[];
}

/** Outcome of {@link loadStateDict}, as PyTorch's `load_state_dict` reports it (plus the mismatches). */
export interface LoadStateDictResult {
  /** Model weights with no entry in the state dict (left unchanged). */
  missing: string[];
  /** State-dict entries the model has no weight for. */
  unexpected: string[];
  /** Entries whose shape differs (not loaded). */
  mismatched: ShapeMismatch[];
  /** Number of weights written. */
  loaded: number;
}

/** Every weight of the target under its PyTorch name, in layer order; duplicate names are an error. */
export function collectTorchParams(target: StateDictTarget): TorchParam[] {
  let params: TorchParam[];
  if (Array.isArray(target)) params = target;
  else if (isTorchMappable(target)) params = target.torchParams();
  else if (Array.isArray((target as tfl.LayersModel).layers)) params = fromLayers((target as tfl.LayersModel).layers);
  else throw new Error('state dict: target must be a MultiTaskModel, a tfjs LayersModel or a TorchParam[]');
  const seen = new Map<string, TorchParam>();
  for (const p of params) {
    const prev = seen.get(p.name);
    if (prev && prev.variable !== p.variable) throw new Error(`state dict: two different weights are named '${p.name}'`);
    seen.set(p.name, p);
  }
  return [...seen.values()];
}

function fromLayers(layers: readonly tfl.layers.Layer[]): TorchParam[] {
  const out: TorchParam[] = [];
  for (const layer of layers) {
    if (isTorchMappable(layer)) out.push(...layer.torchParams());
    else if (Array.isArray((layer as unknown as tfl.LayersModel).layers)) out.push(...fromLayers((layer as unknown as tfl.LayersModel).layers));
  }
  return out;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function matcher(patterns: (string | RegExp)[] | undefined): (name: string) => boolean {
  if (!patterns?.length) return () => false;
  return (name) =>
    patterns.some((p) => (typeof p === 'string' ? name === p || (p.endsWith('.') && name.startsWith(p)) : p.test(name)));
}

const isNumBatchesTracked = (name: string) => name.endsWith('num_batches_tracked');

/** Writes PyTorch-layout values into a tfjs weight, converting the layout. */
export function writeTorchValue(param: TorchParam, torchValues: Float32Array, shape?: readonly number[]): void {
  const tshape = shape ?? torchShape(param.variable.shape as number[], param.layout);
  const perm = fromTorchPermutation(param.layout);
  const value = tf.tidy(() => {
    const t = tf.tensor(torchValues, [...tshape], 'float32');
    return perm ? tf.transpose(t, perm) : t;
  });
  try {
    param.variable.write(value);
  } finally {
    value.dispose();
  }
}

/** Reads a tfjs weight in PyTorch layout. */
export function readTorchValue(param: TorchParam): StateDictEntry {
  const perm = toTorchPermutation(param.layout);
  const t = tf.tidy(() => (perm ? tf.transpose(param.variable.read(), perm) : tf.clone(param.variable.read())));
  try {
    // A copy: some backends hand out their own storage.
    return { shape: t.shape, data: new Float32Array(t.dataSync() as Float32Array) };
  } finally {
    t.dispose();
  }
}

/**
 * Loads a PyTorch state dict into a model, converting layouts (conv `[out,in,kh,kw]` →
 * `[kh,kw,in,out]`, linear `[out,in]` → `[in,out]`). `num_batches_tracked` entries are ignored.
 * Like PyTorch's `load_state_dict`, strict mode (default) fails on any missing or unexpected
 * name, and also on shape mismatches; it checks everything before writing, so a failed load
 * leaves the model unchanged. Non-strict mode loads what matches and reports the rest.
 * @example
 * ```ts
 * import { loadStateDict, loadStateDictSafetensors } from '@busi/core';
 * import { readFileSync } from 'node:fs';
 * const sd = loadStateDictSafetensors(readFileSync('unet_resnet50.safetensors')); // an smp checkpoint
 * const report = loadStateDict(model, sd); // strict: throws listing missing / unexpected / mismatched
 * ```
 */
export function loadStateDict(target: StateDictTarget, sd: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
  const strict = options.strict ?? true;
  const ignored = matcher(options.ignore);
  const params = collectTorchParams(target);
  const byName = new Map(params.map((p) => [p.name, p]));

  const incoming = new Map<string, { source: string; entry: StateDictEntry }>();
  const unexpected: string[] = [];
  for (const [source, entry] of sd) {
    if (isNumBatchesTracked(source) || ignored(source)) continue;
    let name: string | null = (options.prefix ?? '') + source;
    if (options.rename) name = options.rename(name);
    if (name == null || isNumBatchesTracked(name) || ignored(name)) continue;
    if (incoming.has(name)) {
      throw new Error(`loadStateDict: entries '${incoming.get(name)!.source}' and '${source}' both map to '${name}'`);
    }
    if (numel(entry.shape) !== entry.data.length) {
      throw new Error(`loadStateDict: entry '${source}' has shape [${entry.shape.join(', ')}] but ${entry.data.length} values`);
    }
    incoming.set(name, { source, entry });
    if (!byName.has(name)) unexpected.push(source);
  }

  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  const toLoad: [TorchParam, StateDictEntry][] = [];
  for (const p of params) {
    if (ignored(p.name)) continue;
    const found = incoming.get(p.name);
    if (!found) {
      missing.push(p.name);
      continue;
    }
    const expected = torchShape(p.variable.shape as number[], p.layout);
    if (!sameShape(expected, found.entry.shape)) {
      mismatched.push({ name: p.name, expected, got: [...found.entry.shape] });
      continue;
    }
    toLoad.push([p, found.entry]);
  }

  if (strict && (missing.length || unexpected.length || mismatched.length)) {
    throw new Error(describeLoadErrors({ missing, unexpected, mismatched }));
  }
  for (const [p, entry] of toLoad) writeTorchValue(p, entry.data, entry.shape);
  return { missing, unexpected, mismatched, loaded: toLoad.length };
}

function describeLoadErrors(r: Omit<LoadStateDictResult, 'loaded'>, limit = 20): string {
  const list = (xs: string[]) => xs.slice(0, limit).map((x) => `"${x}"`).join(', ') + (xs.length > limit ? `, ... (${xs.length - limit} more)` : '');
  const parts: string[] = [];
  if (r.missing.length) parts.push(`Missing key(s) in state_dict (${r.missing.length}): ${list(r.missing)}.`);
  if (r.unexpected.length) parts.push(`Unexpected key(s) in state_dict (${r.unexpected.length}): ${list(r.unexpected)}.`);
  if (r.mismatched.length) {
    parts.push(
      `Size mismatch (${r.mismatched.length}): ` +
        r.mismatched
          .slice(0, limit)
          .map((m) => `"${m.name}": checkpoint [${m.got.join(', ')}], model [${m.expected.join(', ')}]`)
          .join('; ') +
        (r.mismatched.length > limit ? `; ... (${r.mismatched.length - limit} more)` : '') +
        '.',
    );
  }
  return `Error(s) in loading state_dict (strict):\n  ${parts.join('\n  ')}`;
}

/** Every weight of the target as a PyTorch state dict (PyTorch names and layouts, layer order). */
export function exportStateDict(target: StateDictTarget): StateDict {
  const sd: StateDict = new Map();
  for (const p of collectTorchParams(target)) sd.set(p.name, readTorchValue(p));
  return sd;
}

/**
 * Parses safetensors bytes into a state dict. Floating-point tensors (F32, F16, BF16, F64) are
 * converted to float32; integer and boolean entries (e.g. `num_batches_tracked`) are skipped.
 */
export function loadStateDictSafetensors(bytes: Uint8Array): StateDict {
  const sd: StateDict = new Map();
  for (const [name, t] of readSafetensors(bytes).tensors) {
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') sd.set(name, { shape: t.shape, data: t.data as Float32Array });
    else if (t.dtype === 'F64') sd.set(name, { shape: t.shape, data: new Float32Array(t.data as Float64Array) });
  }
  return sd;
}

/**
 * Serialises a state dict (or a model's weights) as safetensors, readable by
 * `safetensors.torch.load_file` and then `model.load_state_dict` in PyTorch.
 * @param dtype 'F32' (default), or 'F16'/'BF16' to halve the size.
 */
export function saveStateDictSafetensors(
  source: StateDict | StateDictTarget,
  metadata: Record<string, string> = { format: 'pt' },
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): Uint8Array {
  const sd = source instanceof Map ? source : exportStateDict(source);
  const entries = new Map<string, SafetensorsWriteEntry>();
  for (const [name, e] of sd) entries.set(name, { dtype, shape: e.shape, data: e.data });
  return writeSafetensors(entries, metadata);
}

/**
 * Fills every weight of the target (running statistics included) with the parity fill of its
 * PyTorch name and PyTorch shape, exactly as the reference fixtures were generated.
 * @returns the number of weights filled.
 */
export function applyParityFill(target: StateDictTarget, salt = ''): number {
  const params = collectTorchParams(target);
  for (const p of params) {
    const shape = torchShape(p.variable.shape as number[], p.layout);
    writeTorchValue(p, parityFill(p.name, shape, salt), shape);
  }
  return params.length;
}
