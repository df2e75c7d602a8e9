// Inference latency and training speed of the paper's 16 models on the active backend, next to
// the PyTorch CPU figures of ../shared/reference/architectures.md when that file is present.
//
// Usage: node packages/node/bench/run.mjs packages/node/bench/models.ts [options]
//   --models=all | unet:resnet50,unet:efficientnet-b4,...   (decoder:encoder)
//   --sizes=448,224        input sizes (square)
//   --batch=8 --micro=2    training batch and micro-batch (gradients accumulated over batch/micro)
//   --reps=2               timed repetitions after one warm-up (medians reported)
//   --no-batch-train       skip the batch training measurement (batch-1 fwd+bwd and inference only)
//   --infer-only           only the batch-1 inference latency
//   --small-map=N          wasm: output maps up to N pixels use the matmul conv forms (0: XNNPACK only)
//   --backend=wasm|cpu|tensorflow|auto   --native=auto|on|off (wasm: the native kernels)   --reference=path   --out=dir
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Adam, MultiTaskModel, Trainer, decoders, encoders, type TrainingBatch, type TrainingDataset } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { setSmallMapPixels } from '../../kernels/src/wasm/conv-grads';
import { PAPER_MODELS } from '../src/models/factory';
import { median } from './common';
import { hostInfo, writeResults } from './report';

/** `Decoder/encoder` in smp's spelling, as the reference table names a model. */
function smpLabel(decoder: string, encoder: string): string {
  const d = decoders.has(decoder) ? (decoders.info(decoder).reference?.name ?? decoder) : decoder;
  const e = encoders.has(encoder) ? (encoders.info(encoder).reference?.name ?? encoder) : encoder;
  return `${d}/${e}`;
}

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

interface TorchRef {
  trainMs: number;
  evalMs: number;
}

/** PyTorch batch-1 448² timings (min fwd+bwd, eval fwd) keyed `Decoder/encoder` (smp names). */
function torchReference(path: string): Map<string, TorchRef> {
  const out = new Map<string, TorchRef>();
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 14 || !PAPER_MODELS.some((m) => m.smpDecoder === cells[1])) continue;
    const train = /^(\d+)\s*\//.exec(cells[12]);
    const evalMs = Number(cells[13]);
    if (train && evalMs) out.set(`${cells[1]}/${cells[2]}`, { trainMs: Number(train[1]), evalMs });
  }
  return out;
}

/** Bytes the wasm heap has grown to (it never shrinks, so this is the peak so far). */
function wasmHeapBytes(): number | null {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.length ?? null;
}

/**
 * Wall and process-CPU milliseconds. Plain wasm runs on one thread, so on an idle machine they
 * agree; the native kernels use every core, so there wall time is the figure to compare with
 * PyTorch's (also wall time, 2 threads), and CPU time shows how busy the cores were.
 */
function timed(f: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

async function timedAsync(f: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

function measure(reps: number, f: () => void): { wall: number; cpu: number } {
  // Two warm-ups: on wasm a conv's first call on a small map runs as a matmul and only the second
  // one creates (and packs) the cached XNNPACK operator.
  f();
  f();
  const ts = Array.from({ length: reps }, () => timed(f));
  return { wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) };
}

class SkipRest extends Error {}

/** Smallest training batch of a decoder, from its registry entry. */
function minBatch(decoder: string): number {
  return decoders.has(decoder) ? (decoders.info(decoder).minTrainingBatch ?? 1) : 1;
}

async function main(): Promise<void> {
  const backend = arg('backend', process.env.BUSI_BACKEND ?? 'wasm') as BackendChoice;
  const nativeArg = arg('native', '');
  const native = nativeArg === '' ? undefined : nativeArg === 'off' || nativeArg === '0' ? false : nativeArg === 'on' || nativeArg === '1' ? true : 'auto';
  const desc = await initBackend({ backend, native });
  const smallMap = process.argv.find((a) => a.startsWith('--small-map='));
  if (smallMap) setSmallMapPixels(Number(smallMap.slice('--small-map='.length)));
  const sizes = arg('sizes', '448,224').split(',').map(Number);
  const batch = Number(arg('batch', '8'));
  const micro = Math.min(batch, Number(arg('micro', '2')));
  const reps = Number(arg('reps', '2'));
  const inferOnly = process.argv.includes('--infer-only');
  const batchTrain = !process.argv.includes('--no-batch-train') && !inferOnly;
  const ref = torchReference(arg('reference', '../shared/reference/architectures.md'));
  const list = arg('models', 'all') === 'all'
    ? PAPER_MODELS.map((m) => [m.decoder, m.encoder])
    : arg('models', '').split(',').map((s) => s.split(':'));

  const rows: Array<Record<string, string | number>> = [];
  const child = process.argv.includes('--child');
  if (!child && list.length * sizes.length > 1) {
    // One process per model and size: a wasm heap overflow aborts the whole wasm instance, and
    // the heap never shrinks, so separate processes keep failures and peak memory per model.
    const passThrough = process.argv.slice(2).filter((a) => !/^--(models|sizes|out)=/.test(a));
    for (const [decoder, encoder] of list) {
      for (const size of sizes) {
        const runChild = (microBatch: number) => {
          const res = spawnSync(process.execPath, [__filename, ...passThrough.filter((a) => !a.startsWith('--micro=')), '--child', `--models=${decoder}:${encoder}`, `--sizes=${size}`, `--micro=${microBatch}`], {
            stdio: ['ignore', 'pipe', 'inherit'],
            encoding: 'utf8',
            maxBuffer: 64 * 2 ** 20,
          });
          const line = res.stdout.split('\n').find((l) => l.startsWith('ROW '));
          return line ? JSON.parse(line.slice(4)) : { model: smpLabel(decoder, encoder), size, error: `exit ${res.status ?? res.signal}` };
        };
        // A batch step that overflows the 4 GiB wasm heap is retried with half the micro-batch
        // (DeepLabV3+ needs 2: its pooled-branch BatchNorm sees one value per channel at 1).
        let mb = micro;
        let row = runChild(mb);
        const minMicro = minBatch(decoder);
        while (row.error && /memory|abort|exit/i.test(String(row.error)) && mb / 2 >= minMicro) {
          mb /= 2;
          row = runChild(mb);
        }
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
    const h = hostInfo();
    writeResults('models', rows, `busi models on ${desc.summary.replace('busi backend: ', '')}, ${h.cores} cores, load ${h.loadavg1}`);
    return;
  }
  for (const [decoder, encoder] of list) {
    for (const size of sizes) {
      const row: Record<string, string | number> = { model: smpLabel(decoder, encoder), size };
      let model: MultiTaskModel | null = null;
      try {
        model = new MultiTaskModel({ encoder, decoder, classes: 3 });
        const m = model;
        const vars = m.trainableVariables();
        const x1 = tf.randomNormal([1, size, size, 3]) as tf.Tensor4D;
        const infer = measure(reps, () => {
          const out = m.predict(x1);
          out.mask.dataSync();
          tf.dispose([out.mask, out.logits]);
        });
        row['infer b1 ms'] = +infer.wall.toFixed(0);
        row['infer cpu ms'] = +infer.cpu.toFixed(0);

        const r = ref.get(smpLabel(decoder, encoder));
        if (r && size === 448) {
          row['torch infer ms'] = r.evalMs;
          row['infer ×torch'] = +(infer.wall / r.evalMs).toFixed(2);
        }
        if (inferOnly) {
          x1.dispose();
          throw new SkipRest();
        }

        // The reference's train measurement: batch 1, loss mean(mask)+mean(logits), fwd+bwd, no optimiser.
        // DeepLabV3+'s pooled-branch BN cannot see one value per channel, so it trains at batch 2 there, halved.
        const b1 = minBatch(decoder);
        const xb = b1 === 1 ? x1 : (tf.randomNormal([b1, size, size, 3]) as tf.Tensor4D);
        const fbt = measure(reps, () => {
          const { value, grads } = tf.variableGrads(() => {
            const out = m.forward(xb, true);
            return tf.add(tf.mean(out.mask), tf.mean(out.logits)) as tf.Scalar;
          }, vars);
          value.dataSync();
          tf.dispose([value, ...Object.values(grads)]);
        });
        const fb = fbt.wall / b1;
        row['fwd+bwd b1 ms'] = +fb.toFixed(0);
        row['fwd+bwd cpu ms'] = +(fbt.cpu / b1).toFixed(0);
        if (xb !== x1) xb.dispose();
        x1.dispose();

        if (r && size === 448) {
          row['torch fwd+bwd ms'] = r.trainMs;
          row['fwd+bwd ×torch'] = +(fb / r.trainMs).toFixed(2);
        }

        if (batchTrain) {
          // A full optimiser step at `batch` as `busi train` runs it: the busi Trainer (gradients
          // accumulated over micro-batches to fit the wasm heap) with busi's Adam and the
          // Dice + focal loss.
          const optimizer = new Adam({ learningRate: 1e-4, weightDecay: 1e-5 });
          const trainer = new Trainer(m, { batchSize: batch, microBatchSize: micro, optimizer, loss: new MultiTaskLoss() });
          const data: TrainingDataset = {
            size: batch,
            getBatch: (indices: number[]): TrainingBatch => tf.tidy(() => ({
              images: tf.randomNormal([indices.length, size, size, 3]) as tf.Tensor4D,
              masks: tf.cast(tf.greater(tf.randomUniform([indices.length, size, size, 1]), 0.5), 'float32') as tf.Tensor4D,
              labels: tf.tensor1d(indices.map((i) => i % 3), 'int32'),
            })),
          };
          const indices = Array.from({ length: batch }, (_, i) => i);
          await trainer.trainStep(data, indices); // creates the optimiser state
          const tensorsBefore = tf.memory().numTensors;
          const st = await timedAsync(() => trainer.trainStep(data, indices));
          row['tensor leak/step'] = tf.memory().numTensors - tensorsBefore;
          row.micro = micro;
          row[`train step b${batch} ms`] = +st.wall.toFixed(0);
          row['img/s'] = +((batch * 1000) / st.wall).toFixed(2);
          row['img/s (cpu)'] = +((batch * 1000) / st.cpu).toFixed(2);
          trainer.dispose?.();
          optimizer.dispose();
        }
        const heap = wasmHeapBytes();
        row['peak MiB'] = heap != null ? +(heap / 2 ** 20).toFixed(0) : +(tf.memory().numBytes / 2 ** 20).toFixed(0);
      } catch (e) {
        if (e instanceof SkipRest) {
          const heap = wasmHeapBytes();
          if (heap != null) row['peak MiB'] = +(heap / 2 ** 20).toFixed(0);
        } else row.error = String((e as Error).message ?? e).split('\n')[0].slice(0, 120);
      } finally {
        model?.dispose();
      }
      rows.push(row);
      console.log(child ? `ROW ${JSON.stringify(row)}` : JSON.stringify(row));
    }
  }
  if (child) return;
  const host = hostInfo();
  writeResults('models', rows, `busi models on ${desc.summary.replace('busi backend: ', '')}, ${host.cores} cores, load ${host.loadavg1}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
