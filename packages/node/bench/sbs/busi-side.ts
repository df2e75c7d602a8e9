/**
 * busi's side of one side-by-side case, run in a child process of sbs.ts (one per case, so the
 * peak RSS and a wasm heap overflow belong to that case alone). Mirrors torch_side.py: inference
 * in eval mode at batch 1, or a training step of the busi Trainer (Adam lr 1e-4, L2 weight decay
 * 1e-5, λ·Dice + (1-λ)·Focal with λ = 0.7, the whole batch at once).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { initTrainingBackend } from '../../src/runs/training-memory';
import { makeTrainBench } from '../common';
import type { Mode } from './cases';

/** What the child is asked to run. */
export interface BusiCaseArgs {
  decoder: string;
  encoder: string;
  mode: Mode;
  size: number;
  batch: number;
  warmup: number;
  reps: number;
  backend: BackendChoice;
}

/** What the child reports (one `RESULT` line). */
export interface BusiCaseResult {
  side: 'busi';
  /** Best wall ms over the repetitions. */
  ms: number;
  all: number[];
  /** Peak resident set of the process (MiB), model building and warm-ups included. */
  peakRssMiB: number;
  /** The wasm heap at the end (it never shrinks: its peak), on wasm only. */
  wasmHeapMiB: number | null;
  /** `tf.memory().numTensors` after the timed repetitions minus before them. */
  tensorLeak: number;
  /** The tfjs backend that ran it ('wasm', 'native', ...) and `initBackend`'s summary line. */
  backend: string;
  backendSummary: string;
}

const WEIGHT_DECAY = 1e-5;

async function bestMs(warmup: number, reps: number, run: () => Promise<void> | void): Promise<{ ms: number; all: number[]; leak: number }> {
  for (let i = 0; i < warmup; i++) await run();
  const before = tf.memory().numTensors;
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    all.push(performance.now() - t0);
  }
  return { ms: Math.min(...all), all: all.map(Math.round), leak: tf.memory().numTensors - before };
}

/** Runs the case on the requested backend and returns its figures. */
export async function runBusiCase(a: BusiCaseArgs): Promise<BusiCaseResult> {
  // A step picks its backend as busi train does: wasm where the step fits its heap, else native.
  const desc = a.mode === 'step'
    ? await initTrainingBackend({ encoder: a.encoder, decoder: a.decoder, decoderChannels: null, dropout: 0.5, classNames: ['benign', 'malignant', 'normal'], seed: 0, size: a.size, batchSize: a.batch, microBatch: a.batch }, a.backend)
    : await initBackend({ backend: a.backend, log: false });
  let timing: { ms: number; all: number[]; leak: number };
  if (a.mode === 'infer') {
    const model = new MultiTaskModel({ encoder: a.encoder, decoder: a.decoder, classes: 3 });
    const x = tf.randomNormal([a.batch, a.size, a.size, 3]) as tf.Tensor4D;
    timing = await bestMs(a.warmup, a.reps, () => {
      const out = model.predict(x);
      out.mask.dataSync();
      tf.dispose([out.mask, out.logits]);
    });
    x.dispose();
    model.dispose();
  } else {
    const bench = makeTrainBench(a.encoder, a.decoder, a.batch, a.size, WEIGHT_DECAY);
    timing = await bestMs(a.warmup, a.reps, async () => {
      await bench.step();
    });
    bench.dispose();
  }
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
  return {
    side: 'busi',
    ms: timing.ms,
    all: timing.all,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    wasmHeapMiB: heap != null ? Math.round(heap / 2 ** 20) : null,
    tensorLeak: timing.leak,
    backend: desc.backend,
    backendSummary: desc.summary.replace(/^busi backend: /, ''),
  };
}
