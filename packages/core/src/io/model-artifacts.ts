import type * as tf from '@tensorflow/tfjs-core';
import { previewJson } from './safetensors';

/**
 * Checks on saved tfjs model artifacts that run before tfjs sees them: tfjs trusts its inputs, so
 * a hand-edited or hostile model.json could otherwise load random weights (no manifest), loop
 * forever (a layer whose input was deleted), or allocate without bound (a huge shape).
 */

/** Bytes per element of each tfjs weight dtype this library reads. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Most dimensions a stored weight may have (busi weights have at most 4). */
const MAX_RANK = 8;

/**
 * Bytes that one manifest entry occupies in the weights data, after checking its name, dtype,
 * shape and quantization; the error names `source` and the entry.
 */
export function weightSpecBytes(spec: unknown, source: string): number {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new Error(`${source}: a weights manifest entry is ${previewJson(spec)}, expected {name, shape, dtype}`);
  const s = spec as Record<string, unknown>;
  if (typeof s.name !== 'string' || s.name === '') throw new Error(`${source}: a weights manifest entry has name ${previewJson(s.name)}, expected a non-empty string`);
  const shape = s.shape;
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${source}: weight '${s.name}' has shape ${previewJson(shape)}, expected a list of at most ${MAX_RANK} non-negative integers`);
  }
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) throw new Error(`${source}: weight '${s.name}' has shape ${previewJson(shape)} with too many elements`);
  const q = s.quantization as Record<string, unknown> | undefined;
  if (q !== undefined) {
    if (q === null || typeof q !== 'object' || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16')) {
      throw new Error(`${source}: weight '${s.name}' has quantization ${previewJson(q)}, expected dtype uint8, uint16 or float16`);
    }
    return n * (q.dtype === 'uint8' ? 1 : 2);
  }
  // Own keys only: a dtype of 'constructor' or 'toString' must not pass.
  if (typeof s.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s.dtype)) {
    throw new Error(`${source}: weight '${s.name}' has dtype ${previewJson(s.dtype)}, expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`);
  }
  return n * DTYPE_BYTES[s.dtype];
}

/**
 * Checks a weights manifest (the `weightSpecs` of model artifacts, or a trainer state's) against
 * the size of its data: every entry well formed, no name twice, and the bytes adding up exactly.
 * @returns the specs, typed.
 */
export function checkWeightSpecs(specs: unknown, dataBytes: number, source: string): tf.io.WeightsManifestEntry[] {
  if (!Array.isArray(specs)) {
    throw new Error(`${source}: no weights manifest (weightsManifest / weightSpecs is ${previewJson(specs)}); a model without one would load with random weights`);
  }
  const seen = new Set<string>();
  let total = 0;
  for (const spec of specs) {
    total += weightSpecBytes(spec, source);
    const name = (spec as { name: string }).name;
    if (seen.has(name)) throw new Error(`${source}: weight '${name}' is listed twice in the weights manifest`);
    seen.add(name);
  }
  if (total !== dataBytes) {
    throw new Error(`${source}: the weights manifest describes ${total} bytes but the weights data has ${dataBytes} (truncated, or edited shapes/dtypes?)`);
  }
  return specs as tf.io.WeightsManifestEntry[];
}

interface LayerJson {
  name?: unknown;
  class_name?: unknown;
  inbound_nodes?: unknown;
}

/** A reference to a layer's output: `[layer name, node index, tensor index, kwargs?]`. */
type TensorRef = { layer: string; node: number; tensor: number };

function tensorRef(ref: unknown, where: string, source: string): TensorRef {
  const ok =
    Array.isArray(ref) &&
    (ref.length === 3 || ref.length === 4) &&
    typeof ref[0] === 'string' &&
    Number.isSafeInteger(ref[1]) &&
    ref[1] >= 0 &&
    Number.isSafeInteger(ref[2]) &&
    ref[2] >= 0 &&
    (ref.length === 3 || (ref[3] !== null && typeof ref[3] === 'object' && !Array.isArray(ref[3])));
  if (!ok) throw new Error(`${source}: ${where} has an input reference ${previewJson(ref)}, expected [layer name, node index, tensor index, {}]`);
  const r = ref as [string, number, number];
  return { layer: r[0], node: r[1], tensor: r[2] };
}

/** The references of an `inbound_nodes` entry (Keras: `[[[name, node, tensor, kwargs], ...], ...]`). */
function inboundRefs(nodes: unknown, layer: string, source: string): TensorRef[] {
  if (nodes === undefined) return [];
  if (!Array.isArray(nodes)) throw new Error(`${source}: layer '${layer}' has inbound_nodes ${previewJson(nodes)}, expected a list`);
  const refs: TensorRef[] = [];
  for (const node of nodes) {
    if (!Array.isArray(node) || node.length === 0) throw new Error(`${source}: layer '${layer}' has an inbound node ${previewJson(node)}, expected a non-empty list`);
    for (const ref of node) refs.push(tensorRef(ref, `layer '${layer}'`, source));
  }
  return refs;
}

/**
 * Checks a functional model topology (tfjs `modelTopology`): a list of uniquely named layers whose
 * inputs and the model's inputs and outputs all name layers of the list. tfjs itself loops forever
 * on a topology whose layer refers to a missing one.
 * @returns the layer names in order.
 */
export function checkTopology(topology: unknown, source: string): string[] {
  if (topology === null || typeof topology !== 'object' || Array.isArray(topology)) throw new Error(`${source}: modelTopology is ${previewJson(topology)}, expected an object`);
  let t = topology as Record<string, unknown>;
  if (t.model_config !== undefined) t = t.model_config as Record<string, unknown>;
  const config = t?.config as Record<string, unknown> | undefined;
  const layers = config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`${source}: modelTopology has no list of layers (config.layers)`);
  const names: string[] = [];
  // Nodes per layer: an InputLayer has one node and no inbound nodes.
  const nodes = new Map<string, number>();
  const classes = new Map<string, string>();
  for (const [i, raw] of layers.entries()) {
    const layer = raw as LayerJson & { config?: unknown };
    if (layer === null || typeof layer !== 'object' || typeof layer.name !== 'string' || typeof layer.class_name !== 'string') {
      throw new Error(`${source}: layer ${i} of modelTopology has no name or class_name`);
    }
    if (layer.config === null || typeof layer.config !== 'object' || Array.isArray(layer.config)) {
      throw new Error(`${source}: layer '${layer.name}' has config ${previewJson(layer.config)}, expected an object`);
    }
    if (nodes.has(layer.name)) throw new Error(`${source}: layer name '${layer.name}' appears twice in modelTopology`);
    const inbound = layer.inbound_nodes;
    if (!Array.isArray(inbound)) throw new Error(`${source}: layer '${layer.name}' (${layer.class_name}) has inbound_nodes ${previewJson(inbound)}, expected a list (empty for an InputLayer)`);
    if (layer.class_name !== 'InputLayer' && inbound.length === 0) {
      throw new Error(`${source}: layer '${layer.name}' (${layer.class_name}) has inbound_nodes ${previewJson(inbound)}; every layer but an InputLayer takes an input`);
    }
    nodes.set(layer.name, Math.max(1, inbound.length));
    classes.set(layer.name, layer.class_name);
    names.push(layer.name);
  }
  const check = (ref: TensorRef, where: string) => {
    const count = nodes.get(ref.layer);
    if (count === undefined) throw new Error(`${source}: ${where} takes its input from layer '${ref.layer}', which is not in modelTopology (deleted or renamed?)`);
    if (ref.node >= count) throw new Error(`${source}: ${where} refers to node ${ref.node} of layer '${ref.layer}', which has ${count}`);
    // Every layer busi saves has one output tensor; tfjs fails on a missing one with an internals message.
    if (ref.tensor !== 0) throw new Error(`${source}: ${where} refers to output tensor ${ref.tensor} of layer '${ref.layer}', expected 0 (its only output)`);
  };
  for (const raw of layers) {
    const layer = raw as LayerJson & { name: string };
    for (const ref of inboundRefs(layer.inbound_nodes, layer.name, source)) check(ref, `layer '${layer.name}'`);
  }
  for (const key of ['input_layers', 'output_layers'] as const) {
    const refs = config?.[key];
    if (!Array.isArray(refs) || refs.length === 0) throw new Error(`${source}: modelTopology ${key} is ${previewJson(refs)}, expected a non-empty list of [layer name, node, tensor]`);
    for (const ref of refs) {
      const r = tensorRef(ref, `modelTopology ${key}`, source);
      if (!nodes.has(r.layer)) throw new Error(`${source}: modelTopology ${key} names layer '${r.layer}', which is not in the layer list`);
      check(r, `modelTopology ${key}`);
      if (key === 'input_layers' && classes.get(r.layer) !== 'InputLayer') {
        throw new Error(`${source}: modelTopology input_layers names layer '${r.layer}' (${classes.get(r.layer)}), expected an InputLayer`);
      }
    }
  }
  return names;
}

/**
 * Checks that every weight of a manifest belongs to a layer of the topology (tfjs names weights
 * `<layer>/<weight>`); the error names the first weight whose layer is missing.
 */
export function checkWeightsMatchLayers(specs: readonly tf.io.WeightsManifestEntry[], layerNames: readonly string[], source: string): void {
  const layers = new Set(layerNames);
  for (const s of specs) {
    const cut = s.name.lastIndexOf('/');
    const layer = cut > 0 ? s.name.slice(0, cut) : s.name;
    if (!layers.has(layer)) throw new Error(`${source}: weight '${s.name}' belongs to layer '${layer}', which is not in modelTopology (first mismatching layer)`);
  }
}
