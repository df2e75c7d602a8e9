/**
 * Entry of a data-parallel worker thread: its own tfjs (wasm + busi training kernels) and a
 * replica of the model; it computes the gradient of its shard's loss into its shared-memory slot.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import { initBackend } from '@busi/kernels';
import type { FromWorker, PlainTensor, ToWorker, WorkerInit } from './protocol';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

function toTensor(t: PlainTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, t.dtype);
}

// Reads `values` (a shared view) into the variables; a private copy, since a backend may keep the array.
function assign(vars: tf.Variable[], values: Float32Array): void {
  let off = 0;
  for (const v of vars) {
    const n = v.size;
    const t = tf.tensor(values.slice(off, off + n), v.shape, v.dtype);
    v.assign(t);
    t.dispose();
    off += n;
  }
}

function write(tensors: tf.Tensor[], out: Float32Array): void {
  let off = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, off);
    off += t.size;
  }
}

async function main(): Promise<void> {
  await initBackend({ backend: init.backend, log: false, nativeThreads: init.nativeThreads });
  const model = await MultiTaskModel.load(
    tf.io.fromMemory({ modelTopology: init.modelTopology, weightSpecs: init.weightSpecs as tf.io.WeightsManifestEntry[], weightData: init.weightData, userDefinedMetadata: init.userDefinedMetadata as Record<string, object> }),
  );
  const byName = new Map(model.model.weights.map((w) => [w.originalName, w.read() as tf.Variable]));
  const lookup = (names: string[]) =>
    names.map((n) => {
      const v = byName.get(n);
      if (!v) throw new Error(`the replica has no weight '${n}'`);
      return v;
    });
  const all = lookup(init.order.all);
  const trainable = lookup(init.order.trainable);
  const state = lookup(init.order.state);
  const trainableSize = trainable.reduce((s, v) => s + v.size, 0);
  const weights = new Float32Array(init.weights);
  const grads = new Float32Array(init.grads, init.index * trainableSize * 4, trainableSize);
  const stateSize = state.reduce((s, v) => s + v.size, 0);
  const stateOut = new Float32Array(init.state, init.index * stateSize * 4, stateSize);
  const loss = new MultiTaskLoss({ lambda: init.lambda });

  port.on('message', (msg: ToWorker) => {
    const t0 = performance.now();
    try {
      if (msg.type === 'sync') {
        assign(all, weights);
        post({ type: 'done', id: msg.id, numTensors: tf.memory().numTensors, ms: performance.now() - t0 });
        return;
      }
      const images = toTensor(msg.images);
      const masks = toTensor(msg.masks);
      const labels = toTensor(msg.labels);
      const kept: { parts?: tf.Tensor } = {};
      const result = tf.variableGrads(() => {
        const out = model.forward(images as tf.Tensor4D, true);
        const p = loss.compute(out.mask, masks, out.logits, labels);
        kept.parts = tf.keep(tf.stack([p.total, p.segmentation, p.classification]));
        return tf.mul(p.total, msg.weight) as tf.Scalar;
      }, trainable);
      write(trainable.map((v) => result.grads[v.name]), grads);
      write(state, stateOut);
      const parts = Array.from(kept.parts!.dataSync()) as [number, number, number];
      tf.dispose([images, masks, labels, kept.parts!, result.value]);
      tf.dispose(result.grads);
      post({ type: 'done', id: msg.id, parts, numTensors: tf.memory().numTensors, ms: performance.now() - t0 });
    } catch (e) {
      post({ type: 'error', id: msg.id, message: String((e as Error)?.stack ?? e) });
    }
  });
  post({ type: 'ready', shapes: all.map((v) => v.shape) });
}

main().catch((e) => post({ type: 'error', id: -1, message: String((e as Error)?.stack ?? e) }));
