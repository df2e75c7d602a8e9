// Memory of a training step on the wasm backend: does an effective batch-8 step at 448² fit the
// wasm heap (4 GiB per instance), and at which micro-batch size?
//
//   node packages/node/bench/run.mjs packages/node/bench/memory.ts \
//     [--models=unet:resnet50,unet:efficientnet-b4] [--size=448] [--micro=1,2,4] [--batch=8]
//     [--micro-steps=N]  (run only N micro-batches of the step: the peak is the same, see below)
//
// One child process per (model, micro-batch): the wasm heap never shrinks and an overflow aborts
// the whole wasm instance, so each configuration starts from a fresh heap. The optimiser state
// (Adam m and v) is created before the measured step, so the peak includes it.
//
// The peak of a step does not grow with the number of accumulated micro-batches: one micro-batch's
// forward/backward is alive at a time, next to the weights, the optimiser state and the one
// accumulated gradient. `--micro-steps=2` therefore measures the batch-8 peak in a fraction of
// the time (and the accumulation path is exercised); the step time is then reported per image.
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { Adam, Trainer, type TrainingBatch, type TrainingDataset, type LossParts, type TrainingLoss } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import { initBackend } from '@busi/kernels';
import { createModel } from '../src/models/factory';
import { childFailure, hostInfo, writeResults } from './report';

const MiB = 2 ** 20;

function arg(name: string, fallback: string): string {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

/** Bytes the wasm heap has grown to (it never shrinks, so this is the peak so far). */
function wasmHeapBytes(): number | null {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.length ?? null;
}

/** Random images, masks and labels of any size (the content does not change the memory or time). */
class RandomData implements TrainingDataset {
  constructor(readonly size: number, private readonly px: number) {}
  getBatch(indices: number[]): TrainingBatch {
    const n = indices.length;
    return tf.tidy(() => ({
      images: tf.randomNormal([n, this.px, this.px, 3]) as tf.Tensor4D,
      masks: tf.cast(tf.greater(tf.randomUniform([n, this.px, this.px, 1]), 0.5), 'float32') as tf.Tensor4D,
      labels: tf.tensor1d(indices.map((i) => i % 3), 'int32'),
    }));
  }
}

/** The default loss, recording tf.memory().numBytes (all live tensors, weights included) when the forward's tape is complete. */
class ProbedLoss implements TrainingLoss {
  private readonly inner = new MultiTaskLoss();
  peakBytes = 0;
  compute(maskLogits: tf.Tensor, maskTruth: tf.Tensor, classLogits: tf.Tensor, labels: tf.Tensor): LossParts {
    this.peakBytes = Math.max(this.peakBytes, tf.memory().numBytes);
    return this.inner.compute(maskLogits, maskTruth, classLogits, labels);
  }
}

type Row = Record<string, string | number>;

async function child(decoder: string, encoder: string, size: number, batch: number, micro: number, microSteps: number): Promise<Row> {
  const row: Row = { model: `${decoder}/${encoder}`, size, batch, micro };
  const images = Math.min(batch, micro * microSteps);
  const model = createModel({ encoder, decoder, classes: 3 });
  const loss = new ProbedLoss();
  // busi's Adam keys its state by variable name (tf.train.adam by position in the gradient map).
  const optimizer = new Adam({ learningRate: 1e-4 });
  const trainer = new Trainer(model, { batchSize: images, microBatchSize: micro, optimizer, loss });
  const data = new RandomData(images, size);
  try {
    // Zero gradients create Adam's m and v without moving the weights.
    const vars = model.trainableVariables();
    const zeros = Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)]));
    optimizer.applyGradients(zeros);
    tf.dispose(Object.values(zeros));
    const weightsMiB = vars.reduce((s, v) => s + v.size * 4, 0) / MiB;
    const tensorsBefore = tf.memory().numTensors;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await trainer.trainStep(data, Array.from({ length: images }, (_, i) => i));
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    const heap = wasmHeapBytes();
    row['fits'] = 'yes';
    row['images run'] = images;
    row['peak wasm heap MiB'] = heap != null ? Math.round(heap / MiB) : '–';
    row['numBytes at loss MiB'] = Math.round(loss.peakBytes / MiB);
    row['weights+Adam MiB'] = Math.round(3 * weightsMiB);
    row['peak RSS MiB'] = Math.round((process.resourceUsage().maxRSS * 1024) / MiB);
    row['ms/image (wall)'] = Math.round(wall / images);
    row['ms/image (cpu)'] = Math.round(cpu / images);
    row[`step b${batch} s (wall, est.)`] = +((wall / images) * batch / 1000).toFixed(1);
    row['tensor leak'] = tf.memory().numTensors - tensorsBefore;
  } finally {
    trainer.dispose?.();
    optimizer.dispose();
    model.dispose();
  }
  return row;
}

async function main(): Promise<void> {
  const size = Number(arg('size', '448'));
  const batch = Number(arg('batch', '8'));
  const micros = arg('micro', '1,2,4').split(',').map(Number);
  const microSteps = Number(arg('micro-steps', String(Number.POSITIVE_INFINITY)));
  const models = arg('models', 'unet:resnet50,unet:efficientnet-b4').split(',').map((s) => s.split(':') as [string, string]);
  if (process.argv.includes('--child')) {
    await initBackend({ backend: 'wasm' });
    const [[decoder, encoder]] = models;
    const row = await child(decoder, encoder, size, batch, micros[0], microSteps);
    console.log(`ROW ${JSON.stringify(row)}`);
    return;
  }
  const rows: Row[] = [];
  for (const [decoder, encoder] of models) {
    for (const micro of micros) {
      const pass = [`--models=${decoder}:${encoder}`, `--size=${size}`, `--batch=${batch}`, `--micro=${micro}`, `--micro-steps=${microSteps}`];
      const res = spawnSync(process.execPath, [...process.execArgv, __filename, ...pass, '--child'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
        maxBuffer: 64 * MiB,
      });
      const line = res.stdout.split('\n').find((l) => l.startsWith('ROW '));
      const failed: Row = { model: `${decoder}/${encoder}`, size, batch, micro, fits: `no (${childFailure(res)})` };
      const row = line ? (JSON.parse(line.slice(4)) as Row) : failed;
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  const h = hostInfo();
  // One column set for the table: failed rows lack the measured columns.
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  writeResults('memory', rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? '–']))), `busi training memory on wasm, ${size}², effective batch ${batch} (${h.cores} cores, load ${h.loadavg1})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
