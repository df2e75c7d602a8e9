import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { MultiTaskModel, TrainingBatch } from '@busi/core';
import type { FromWorker, PlainTensor, ToWorker, WorkerInit } from './protocol';
import { DEFAULT_LAMBDA } from '@busi/losses';

/** Options of {@link createDataParallel}. */
export interface DataParallelOptions {
  /** The model; its weights are the master copy (the optimizer updates them in this thread). */
  model: MultiTaskModel;
  /** Worker threads. Default `os.availableParallelism()`. */
  workers?: number;
  /** Segmentation weight λ of the multi-task loss (Dice + focal). Default 0.7. */
  lambda?: number;
  /** Seed of the dropout masks, as the Trainer's `seed` option. Default 0. */
  seed?: number;
  /** Backend of the workers. Default 'wasm' (with the busi training kernels). */
  backend?: 'wasm' | 'cpu';
  /**
   * Compiled worker entry (JavaScript). Default: `parallel-worker.cjs` next to the built
   * package, or, when running from TypeScript sources (tests, benchmarks), `src/parallel/worker.ts`
   * bundled on the fly with esbuild.
   */
  workerScript?: string;
}

/** Loss values of one {@link DataParallel.computeGradients} call, batch-weighted means over the shards. */
export interface DataParallelLogs {
  /** The multi-task loss λ·Dice + (1-λ)·focal. */
  loss: number;
  /** The segmentation part (Dice), before weighting by λ. */
  segmentation_loss: number;
  /** The classification part (focal), before weighting by 1-λ. */
  classification_loss: number;
  /** Images in the batch. */
  size: number;
}

/** Gradients of the multi-task loss computed on several threads; see {@link createDataParallel}. */
export interface DataParallel {
  /** Number of worker threads. */
  readonly workers: number;
  /**
   * The gradient of the batch loss w.r.t. every trainable variable of the main model (keyed by
   * variable name; the caller disposes them), each worker computing its contiguous shard in
   * training mode, weighted by its share of the batch. Also sets the main model's BatchNorm running
   * statistics to the workers' updated ones, averaged by shard size. The batch tensors stay the caller's.
   * `where` keys the dropout masks as in `Trainer.computeGradients` (worker k draws micro-batch k's);
   * by default epoch 0 and a step counter.
   */
  computeGradients(
    batch: TrainingBatch,
    where?: { epoch: number; batch: number },
  ): Promise<{
    /** One gradient per trainable variable, keyed by variable name; the caller disposes them. */
    grads: tf.NamedTensorMap;
    /** The batch's loss values. */
    logs: DataParallelLogs;
  }>;
  /** Broadcasts the main model's weights to every replica (call after each optimizer step). */
  syncWeights(): Promise<void>;
  /** `computeGradients`, `optimizer.applyGradients`, `syncWeights`. */
  trainStep(batch: TrainingBatch, optimizer: tf.Optimizer, where?: { epoch: number; batch: number }): Promise<DataParallelLogs>;
  /** Live tensors in each worker after its last reply (for leak checks). */
  workerTensors(): number[];
  /** Milliseconds each worker spent on its last message (gradient step or weight sync), for profiling. */
  workerTimes(): number[];
  /** Worker threads still running (0 after {@link DataParallel.dispose}). */
  runningWorkers(): number;
  /** Terminates the workers. */
  dispose(): Promise<void>;
}

let bundled: Promise<string> | null = null;

// From TypeScript sources no compiled worker exists: bundle one (tfjs stays external, so the
// worker loads the same installed tfjs packages).
async function bundleWorker(srcDir: string): Promise<string> {
  const src = path.join(srcDir, 'worker.ts');
  const root = path.resolve(srcDir, '../../../..');
  // Inside the workspace, so that the bundle's require('@tensorflow/...') finds node_modules.
  const outDir = path.join(root, 'node_modules', '.cache', 'busi-parallel', String(process.pid));
  mkdirSync(outDir, { recursive: true });
  process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
  const outfile = path.join(outDir, 'parallel-worker.cjs');
  // Through createRequire so that no bundler (tsup, the bench runner) inlines esbuild.
  const esbuild = createRequire(path.join(root, 'package.json'))('esbuild') as typeof import('esbuild');
  await esbuild.build({
    entryPoints: [src],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    alias: Object.fromEntries(['core', 'losses', 'kernels'].map((p) => [`@busi/${p}`, path.join(root, 'packages', p, 'src', 'index.ts')])),
    external: ['@tensorflow/*', 'sharp'],
    logLevel: 'warning',
  });
  return outfile;
}

async function resolveWorkerScript(given?: string): Promise<string> {
  if (given) return given;
  const built = path.join(__dirname, 'parallel-worker.cjs');
  if (existsSync(built)) return built;
  // __dirname is the sources' under ts-jest; a bundled benchmark runs from the workspace root.
  const srcDir = [__dirname, path.join(process.cwd(), 'packages', 'node', 'src', 'parallel')].find((d) => existsSync(path.join(d, 'worker.ts')));
  if (srcDir) return (bundled ??= bundleWorker(srcDir));
  throw new Error(`createDataParallel: no worker script found at ${built}; pass workerScript`);
}

function plain(t: tf.Tensor, start: number, end: number): PlainTensor {
  const row = t.size / t.shape[0];
  const all = t.dataSync() as Float32Array | Int32Array;
  return {
    data: all.slice(start * row, end * row),
    shape: [end - start, ...t.shape.slice(1)],
    dtype: t.dtype === 'int32' ? 'int32' : 'float32',
  };
}

/**
 * Data-parallel gradients over `worker_threads`: N workers, each with its own wasm backend and a
 * replica of `model` (loaded from the model saved to memory), compute the gradient of the
 * multi-task loss on their shard of the batch into a SharedArrayBuffer; the main thread sums them,
 * applies the optimizer once and broadcasts the new weights through another SharedArrayBuffer.
 * BatchNorm normalises each shard with its own statistics (PyTorch DDP without SyncBN); the
 * running statistics are the workers' updated ones averaged by shard size, so the running mean
 * moves exactly as with the whole batch's mean. Each worker runs `Trainer.computeGradients` on its
 * shard, so the result equals `Trainer.computeGradients` with `microBatchSize` = the shard size
 * (dropout masks included, for the same `seed` and `where`).
 */
export async function createDataParallel(options: DataParallelOptions): Promise<DataParallel> {
  const { model } = options;
  const n = options.workers ?? os.availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new Error(`createDataParallel: workers must be a positive integer, got ${n}`);
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  const names = (ws: Array<{ originalName: string }>) => ws.map((w) => w.originalName);
  const order = { all: names(model.model.weights), trainable: names(model.model.trainableWeights), state: names(model.model.nonTrainableWeights) };
  if (new Set(order.all).size !== order.all.length) throw new Error('createDataParallel: the model\'s weight names are not unique');
  const all = model.model.weights.map((w) => w.read() as tf.Variable);
  const trainable = model.trainableVariables();
  const state = model.model.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  const size = (vs: tf.Variable[]) => vs.reduce((s, v) => s + v.size, 0);
  const trainableSize = size(trainable);
  const weightsSab = new SharedArrayBuffer(size(all) * 4);
  const gradsSab = new SharedArrayBuffer(n * trainableSize * 4);
  const stateSize = size(state);
  // One slot of non-trainable weights (BatchNorm running statistics) per worker.
  const stateSab = new SharedArrayBuffer(Math.max(1, n * stateSize) * 4);

  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
  const weightData = artifacts!.weightData as ArrayBuffer;
  const script = await resolveWorkerScript(options.workerScript);

  const workers: Worker[] = [];
  const pending = new Map<string, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  const tensors: number[] = new Array(n).fill(0);
  const times: number[] = new Array(n).fill(0);
  let nextId = 0;
  let failure: Error | null = null;
  let disposed = false;
  let running = 0;

  const ready = await Promise.allSettled(
    Array.from({ length: n }, (_, index) => {
      const init: WorkerInit = {
        index,
        modelTopology: artifacts!.modelTopology as object,
        weightSpecs: artifacts!.weightSpecs as object[],
        weightData: weightData.slice(0),
        userDefinedMetadata: artifacts!.userDefinedMetadata as object,
        order,
        weights: weightsSab,
        grads: gradsSab,
        state: stateSab,
        lambda,
        seed: options.seed ?? 0,
        backend: options.backend ?? 'wasm',
        // The native kernels use every core by default; N workers share them instead of each
        // starting a full set of BLAS threads (oversubscribed cores measured slower).
        nativeThreads: Math.max(1, Math.floor(os.availableParallelism() / n)),
      };
      const w = new Worker(script, { workerData: init });
      workers.push(w);
      running++;
      w.once('exit', () => running--);
      return new Promise<FromWorker>((resolve, reject) => {
        w.once('message', (m: FromWorker) => (m.type === 'error' ? reject(new Error(`worker ${index}: ${m.message}`)) : resolve(m)));
        w.once('error', reject);
      }).then((m) => {
        w.on('message', (msg: FromWorker) => {
          if (msg.type === 'ready') return;
          const key = `${index}:${msg.id}`;
          const p = pending.get(key);
          if (!p) return;
          pending.delete(key);
          if (msg.type === 'error') p.reject(new Error(`worker ${index}: ${msg.message}`));
          else {
            tensors[index] = msg.numTensors;
            times[index] = msg.ms;
            p.resolve(msg);
          }
        });
        w.on('error', (e) => {
          failure = e;
          for (const [k, p] of pending) if (k.startsWith(`${index}:`)) p.reject(e);
        });
        return m;
      });
    }),
  );
  const failed = ready.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw failed.reason;
  }
  const readyMsg = (ready[0] as PromiseFulfilledResult<FromWorker>).value as Extract<FromWorker, { type: 'ready' }>;
  if (readyMsg.shapes.length !== all.length || readyMsg.shapes.some((s, i) => s.join() !== all[i].shape.join())) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new Error('createDataParallel: the replica\'s weights do not match the model\'s');
  }

  const send = (index: number, msg: ToWorker): Promise<FromWorker> => {
    if (disposed) return Promise.reject(new Error('DataParallel: disposed'));
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      pending.set(`${index}:${msg.id}`, { resolve, reject });
      workers[index].postMessage(msg);
    });
  };

  const syncWeights = async (): Promise<void> => {
    const view = new Float32Array(weightsSab);
    let off = 0;
    for (const v of all) {
      view.set(v.dataSync() as Float32Array, off);
      off += v.size;
    }
    const id = nextId++;
    await Promise.all(workers.map((_, i) => send(i, { type: 'sync', id })));
  };

  let steps = 0;
  const computeGradients = async (batch: TrainingBatch, where = { epoch: 0, batch: steps }): Promise<{ grads: tf.NamedTensorMap; logs: DataParallelLogs }> => {
    steps++;
    const b = batch.images.shape[0];
    if (!(b >= 1)) throw new Error('DataParallel: a batch needs at least one sample');
    const used = Math.min(n, b);
    const id = nextId++;
    const replies = await Promise.all(
      Array.from({ length: used }, (_, i) => {
        const start = Math.floor((i * b) / used);
        const end = Math.floor(((i + 1) * b) / used);
        return send(i, {
          type: 'step',
          id,
          images: plain(batch.images, start, end),
          masks: plain(batch.masks, start, end),
          labels: plain(batch.labels, start, end),
          weight: (end - start) / b,
          where: { epoch: where.epoch, batch: where.batch, microBatch: i },
        }).then((m) => ({ m, share: (end - start) / b }));
      }),
    );
    const logs: DataParallelLogs = { loss: 0, segmentation_loss: 0, classification_loss: 0, size: b };
    for (const { m, share } of replies) {
      const [t, s, c] = (m as Extract<FromWorker, { type: 'done' }>).parts!;
      logs.loss += share * t;
      logs.segmentation_loss += share * s;
      logs.classification_loss += share * c;
    }
    const slots = Array.from({ length: used }, (_, i) => new Float32Array(gradsSab, i * trainableSize * 4, trainableSize));
    const grads: tf.NamedTensorMap = {};
    let off = 0;
    for (const v of trainable) {
      const sum = slots[0].slice(off, off + v.size);
      for (let w = 1; w < used; w++) {
        const s = slots[w];
        for (let k = 0; k < sum.length; k++) sum[k] += s[off + k];
      }
      grads[v.name] = tf.tensor(sum, v.shape, 'float32');
      off += v.size;
    }
    // Each worker started the step from the same running statistics, so the share-weighted
    // average of their updates is the update with the whole batch's mean.
    const stateSlots = replies.map(({ share }, i) => ({ share, view: new Float32Array(stateSab, i * stateSize * 4, stateSize) }));
    off = 0;
    for (const v of state) {
      const avg = new Float32Array(v.size);
      for (const { share, view } of stateSlots) {
        for (let k = 0; k < v.size; k++) avg[k] += share * view[off + k];
      }
      // Integer state (a batch counter) is the same in every worker; rounding undoes the float sum.
      const values = v.dtype === 'int32' ? Int32Array.from(avg, Math.round) : avg;
      tf.tidy(() => v.assign(tf.tensor(values, v.shape, v.dtype)));
      off += v.size;
    }
    return { grads, logs };
  };

  await syncWeights();
  return {
    workers: n,
    computeGradients,
    syncWeights,
    async trainStep(batch, optimizer, where) {
      const { grads, logs } = await computeGradients(batch, where);
      try {
        optimizer.applyGradients(grads);
      } finally {
        tf.dispose(grads);
      }
      await syncWeights();
      return logs;
    },
    workerTensors: () => tensors.slice(),
    workerTimes: () => times.slice(),
    runningWorkers: () => running,
    async dispose() {
      disposed = true;
      for (const p of pending.values()) p.reject(new Error('DataParallel disposed'));
      pending.clear();
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
