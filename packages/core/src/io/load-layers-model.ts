import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkTopology, checkWeightSpecs, checkWeightsMatchLayers } from './model-artifacts';
import { explainBuildFailure, tfjsReason } from './topology-diagnosis';

/** An IO handler may name what it reads (a path, a URL) for error messages. */
export interface NamedIOHandler extends tf.io.IOHandler {
  /** What the handler reads, e.g. the path of model.json. */
  source?: string;
}

function resolveHandler(handlerOrUrl: tf.io.IOHandler | string): { handler: tf.io.IOHandler; source: string } {
  if (typeof handlerOrUrl !== 'string') return { handler: handlerOrUrl, source: (handlerOrUrl as NamedIOHandler).source ?? 'model' };
  const handlers = tf.io.getLoadHandlers(handlerOrUrl);
  // In a browser a relative URL ('./model/model.json') matches no router; tfjs's own
  // loadLayersModel fetches it over HTTP then, and so does this.
  if (handlers.length === 0 && tf.env().getBool('IS_BROWSER')) return { handler: tf.io.browserHTTPRequest(handlerOrUrl), source: handlerOrUrl };
  if (handlers.length === 0) throw new Error(`cannot load a model from '${handlerOrUrl}': no IO handler accepts that URL`);
  return { handler: handlers[0], source: handlerOrUrl };
}

/**
 * Like `tfl.loadLayersModel`, but with the model artifacts checked first (a closed layer graph,
 * a weights manifest that matches the weights data and names only layers of the topology), errors
 * that name the source and the first mismatching weight, and nothing left behind on failure: the
 * variables of a half-built model and the decoded weights are released.
 */
export async function loadLayersModelChecked(handlerOrUrl: tf.io.IOHandler | string): Promise<tfl.LayersModel> {
  const { handler, source } = resolveHandler(handlerOrUrl);
  if (!handler.load) throw new Error(`${source}: the IO handler cannot load`);
  const artifacts = await handler.load();
  if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error(`${source}: a binary (protobuf) model topology is not supported`);
  const layers = checkTopology(artifacts.modelTopology, source);
  if (artifacts.weightData == null) {
    throw new Error(`${source}: the model has no weights (no weightsManifest, or no weights data); it would load with random weights`);
  }
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const specs = checkWeightSpecs(artifacts.weightSpecs, data.byteLength, source);
  checkWeightsMatchLayers(specs, layers, source);
  const checked: tf.io.ModelArtifacts = { ...artifacts, weightSpecs: specs, weightData: data };

  const before = new Set(Object.keys(tf.engine().state.registeredVariables));
  tf.engine().startScope();
  let model: tfl.LayersModel | null = null;
  try {
    model = await tfl.loadLayersModel({ load: async () => checked });
    return model;
  } catch (e) {
    let detail: string | null;
    try {
      detail = await firstMismatch(artifacts, specs);
    } catch (built) {
      // The topology alone cannot be built: a layer's configuration is broken.
      throw new Error(`${source}: modelTopology cannot be built into layers: ${await explainBuildFailure(artifacts.modelTopology, built)}`);
    }
    const reason = tfjsReason(e);
    throw new Error(`${source}: the weights do not fit the topology${detail ? ` (${detail})` : ''}${reason ? `: ${reason}` : ''}`);
  } finally {
    // The decoded weight tensors are temporaries; the model's variables are not scoped.
    tf.engine().endScope();
    if (model === null) {
      for (const [name, v] of Object.entries(tf.engine().state.registeredVariables)) if (!before.has(name)) v.dispose();
    }
  }
}

/** On the error path only: builds the topology alone and names the first weight whose shape or name differs. */
async function firstMismatch(artifacts: tf.io.ModelArtifacts, specs: readonly tf.io.WeightsManifestEntry[]): Promise<string | null> {
  const bare = await tfl.loadLayersModel({ load: async () => ({ modelTopology: artifacts.modelTopology }) });
  try {
    const bySpec = new Map(specs.map((s) => [s.name, s]));
    for (const w of bare.weights) {
      const s = bySpec.get(w.originalName);
      if (!s) return `layer weight '${w.originalName}' has no entry in the weights manifest`;
      if (s.shape.length !== w.shape.length || s.shape.some((d, i) => d !== w.shape[i])) {
        return `weight '${w.originalName}': the manifest says shape [${s.shape.join(', ')}], the layer needs [${w.shape.join(', ')}]`;
      }
      if (s.dtype !== w.dtype) return `weight '${w.originalName}': the manifest says dtype ${s.dtype}, the layer needs ${w.dtype}`;
      bySpec.delete(w.originalName);
    }
    const extra = bySpec.keys().next();
    return extra.done ? null : `weight '${extra.value}' of the manifest belongs to no layer weight`;
  } finally {
    bare.dispose();
  }
}
