import * as tfl from '@tensorflow/tfjs-layers';
import { previewJson } from './safetensors';
import { checkTopology } from './model-artifacts';

/**
 * Explains, on the error path of a model load, why tfjs could not build a topology that passed
 * `checkTopology`: which layer fails and, when other layers of its class are in the file, how its
 * config differs from theirs. tfjs reports a renamed or mistyped config field only as a JavaScript
 * internals message ("Cannot read properties of undefined"), naming neither the layer nor the field.
 */

/** JavaScript internals messages: they say nothing a user can act on, so they are not repeated. */
const INTERNALS = /TypeError|RangeError|ReferenceError|Cannot read propert|is not a function|is not iterable|undefined is not|Maximum call stack/;

/** The reason of a tfjs error, or null when it is a JavaScript internals message. */
export function tfjsReason(e: unknown): string | null {
  const message = (e as Error)?.message ?? String(e);
  return INTERNALS.test(`${(e as Error)?.name ?? ''}: ${message}`) ? null : message;
}

type Json = Record<string, unknown>;

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The layer list and config of a topology (Keras may wrap it in `model_config`). */
function configOf(topology: unknown): Json {
  const t = topology as Json;
  return ((t.model_config as Json | undefined) ?? t).config as Json;
}

/** A copy of `topology` holding only layers[0..last], with that layer as the output. */
function prefix(topology: unknown, last: number): unknown {
  const t = topology as Json;
  const config = configOf(topology);
  const layers = (config.layers as Json[]).slice(0, last + 1);
  const names = new Set(layers.map((l) => l.name));
  const inputs = (config.input_layers as unknown[][]).filter((r) => names.has(r[0] as string));
  const cut = { ...config, layers, input_layers: inputs, output_layers: [[layers[last].name, 0, 0]] };
  return t.model_config !== undefined ? { ...t, model_config: { ...(t.model_config as Json), config: cut } } : { ...t, config: cut };
}

/** Builds a topology without weights; returns the error, or null when it builds. */
async function buildError(topology: unknown): Promise<unknown> {
  try {
    const model = await tfl.loadLayersModel({ load: async () => ({ modelTopology: topology as object }) });
    model.dispose();
    return null;
  } catch (e) {
    return e ?? new Error('unknown error');
  }
}

/**
 * The first layer whose prefix of the topology does not build (layers are saved in topological
 * order, so the prefix ending at a layer holds all its inputs), by bisection; null when every
 * prefix builds or the order is not topological.
 */
async function firstFailingLayer(topology: unknown): Promise<{ index: number; error: unknown } | null> {
  const layers = configOf(topology).layers as Json[];
  let lo = 0;
  let hi = layers.length - 1;
  let found: { index: number; error: unknown } | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const cut = prefix(topology, mid);
    // A prefix that refers to a later layer would make tfjs loop forever; never build one.
    try {
      checkTopology(cut, 'prefix');
    } catch {
      return null;
    }
    const error = await buildError(cut);
    if (error) {
      found = { index: mid, error };
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found;
}

/** How `layer`'s config differs from those of the other layers of its class; null with no peers or no difference. */
function differenceFromPeers(layer: Json, layers: readonly Json[]): string | null {
  const peers = layers.filter((l) => l !== layer && l.class_name === layer.class_name).map((l) => l.config as Json);
  if (peers.length === 0) return null;
  const own = layer.config as Json;
  const others = `the other ${peers.length} ${layer.class_name} layer${peers.length > 1 ? 's' : ''} of the file`;
  // Fields every peer has and this layer lacks, fields no peer has, and fields of another kind.
  const missing = Object.keys(peers[0]).filter((k) => peers.every((p) => Object.prototype.hasOwnProperty.call(p, k)) && !Object.prototype.hasOwnProperty.call(own, k));
  const extra = Object.keys(own).filter((k) => !peers.some((p) => Object.prototype.hasOwnProperty.call(p, k)));
  const parts: string[] = [];
  if (missing.length) parts.push(`it lacks ${missing.map((k) => `'${k}'`).join(', ')}`);
  if (extra.length) parts.push(`it has ${extra.map((k) => `'${k}'`).join(', ')}`);
  for (const k of Object.keys(own)) {
    if (!peers.every((p) => Object.prototype.hasOwnProperty.call(p, k))) continue;
    const kinds = new Set(peers.map((p) => kind(p[k])));
    if (kinds.size === 1 && !kinds.has(kind(own[k]))) parts.push(`its '${k}' is ${previewJson(own[k])}, not ${[...kinds][0]}`);
  }
  return parts.length ? `unlike ${others}, ${parts.join('; ')}` : null;
}

/** Whether layer `index` is where the topology stops building: its prefix fails, the one before builds. */
async function failsFirstAt(topology: unknown, index: number): Promise<unknown> {
  try {
    checkTopology(prefix(topology, index), 'prefix');
  } catch {
    return null;
  }
  const error = await buildError(prefix(topology, index));
  if (error === null || (index > 0 && (await buildError(prefix(topology, index - 1))) !== null)) return null;
  return error;
}

/**
 * Why `topology` cannot be built, for an error message; `buildFailure` is the error tfjs gave for
 * the whole topology. On this error path only, layers are built in prefixes to find the one that
 * fails: first the layer whose config differs from its peers' (two builds), and when tfjs's
 * message is a JavaScript internals one, any layer (by bisection). The answer names the layer and
 * what is wrong with its config, with tfjs's reason when that says something.
 */
export async function explainBuildFailure(topology: unknown, buildFailure: unknown): Promise<string> {
  const reason = tfjsReason(buildFailure);
  const layers = configOf(topology).layers as Json[];
  const describe = (index: number, error: unknown) => {
    const layer = layers[index];
    const own = tfjsReason(error);
    const diff = differenceFromPeers(layer, layers);
    const fields = `a field is missing, renamed or of the wrong type; its config fields are ${Object.keys(layer.config as Json).map((k) => `'${k}'`).join(', ')}`;
    const detail = diff ? `${diff}${own ? ` (tfjs: ${own})` : ''}` : (own ?? fields);
    return `layer '${layer.name}' (${layer.class_name}) cannot be built from its config: ${detail}`;
  };
  const suspect = layers.findIndex((l) => differenceFromPeers(l, layers) !== null);
  if (suspect >= 0) {
    const error = await failsFirstAt(topology, suspect);
    if (error !== null) return describe(suspect, error);
  }
  if (reason !== null) return reason;
  const failing = await firstFailingLayer(topology);
  return failing ? describe(failing.index, failing.error) : 'tfjs cannot build it (an edited or damaged layer config?)';
}
