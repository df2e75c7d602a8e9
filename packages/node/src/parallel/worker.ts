/**
 * Entry of a data-parallel worker thread: its own tfjs (wasm + busi training kernels) and a
 * replica of the model; it computes the gradient of its shard's loss into its shared-memory slot
 * with the Trainer's own step (`Trainer.computeGradients`, the shard as one micro-batch).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, Trainer, tensorDataset } from '@busi/core';
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

function write(tensors: tf.Tensor[], out: Float32Array, scale = 1): void {
  let off = 0;
  for (const t of tensors) {
    const values = t.dataSync() as Float32Array;
    if (scale === 1) out.set(values, off);
    else for (let i = 0; i < values.length; i++) out[off + i] = values[i] * scale;
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
  // Only its gradient step is used: the optimizer lives in the main thread.
  const trainer = new Trainer(model, { loss: new MultiTaskLoss({ lambda: init.lambda }), seed: init.seed, metrics: [], verbose: 0 });

  port.on('message', async (msg: ToWorker) => {
    const t0 = performance.now();
    try {
      if (msg.type === 'sync') {
        assign(all, weights);
        post({ type: 'done', id: msg.id, numTensors: tf.memory().numTensors, ms: performance.now() - t0 });
        return;
      }
      const shard = { images: toTensor(msg.images) as tf.Tensor4D, masks: toTensor(msg.masks) as tf.Tensor4D, labels: toTensor(msg.labels) as tf.Tensor1D };
      const n = shard.images.shape[0];
      try {
        const { grads: g, logs } = await trainer.computeGradients(tensorDataset(shard), Array.from({ length: n }, (_, i) => i), msg.where);
        write(trainable.map((v) => g[v.name]), grads, msg.weight);
        tf.dispose(g);
        write(state, stateOut);
        const parts: [number, number, number] = [logs.loss, logs.segmentation_loss, logs.classification_loss];
        post({ type: 'done', id: msg.id, parts, numTensors: tf.memory().numTensors, ms: performance.now() - t0 });
      } finally {
        tf.dispose([shard.images, shard.masks, shard.labels]);
      }
    } catch (e) {
      post({ type: 'error', id: msg.id, message: String((e as Error)?.stack ?? e) });
    }
  });
  post({ type: 'ready', shapes: all.map((v) => v.shape) });
}

main().catch((e) => post({ type: 'error', id: -1, message: String((e as Error)?.stack ?? e) }));
