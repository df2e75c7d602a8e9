// The GPU check (npm run bench:gpu): for Unet/ResNet-50, Unet/EfficientNet-B4 and
// DeepLabV3+/EfficientNet-B4 at 448² on the webgpu backend, batch-1 inference and batch-8 training
// step times, the GPU memory the backend holds at its peak, and the model's parity check against
// the PyTorch reference (fixtures/parity, 2×3×96×128, the README's tolerances).
//
// Usage: node packages/node/bench/run.mjs packages/node/bench/gpu.ts [options]
//   --size=448 --batch=8 --reps=3          input size, training batch, timed repetitions (medians)
//   --models=unet:resnet50,...             decoder:encoder (default the three above)
//   --backend=webgpu|tensorflow|auto       (default webgpu; tensorflow compares tfjs-node-gpu)
//   --software                             allow SwiftShader (BUSI_WEBGPU_ICD or Chromium's): use a tiny
//                                          --size, e.g. --size=32 --batch=2 --reps=1 --no-parity
//   --no-parity                            skip the parity check   --out=dir   (default .bench)
import * as tf from '@tensorflow/tfjs-core';
import { Adam, MultiTaskModel, Trainer, decoders } from '@busi/core';
import { initBackend, testWebGpuIcd, type BackendChoice } from '@busi/kernels';
import { findPaperModel } from '../src/models/factory';
import { syntheticDataset } from '../src/models/training-check';
import { runParityDir } from '../src/parity/run-parity';
import { median } from './common';
import { hostInfo, writeResults } from './report';

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

/** Bytes the GPU backend holds in buffers (its pool only grows: after a run, the peak). */
function gpuBytes(): number | null {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number; numBytesInGPUAllocated?: number };
  return m.numBytesAllocatedInGPU ?? m.numBytesInGPUAllocated ?? null;
}

async function timeReps(reps: number, f: () => Promise<void>): Promise<number> {
  await f(); // warm-up: shader compilation, buffer pool
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function main(): Promise<void> {
  const software = process.argv.includes('--software');
  const desc = await initBackend({ backend: arg('backend', 'webgpu') as BackendChoice, ...(software ? { webgpuIcd: testWebGpuIcd() } : {}) });
  if (desc.adapter?.software && !software) {
    throw new Error(`bench:gpu: the adapter is a software rasteriser (${desc.summary}); pass --software with a tiny --size to run anyway`);
  }
  const size = Number(arg('size', '448'));
  const batch = Number(arg('batch', '8'));
  const reps = Number(arg('reps', '3'));
  const parity = !process.argv.includes('--no-parity');
  const list = arg('models', 'unet:resnet50,unet:efficientnet-b4,deeplabv3plus:efficientnet-b4').split(',').map((s) => s.split(':'));
  const rows: Array<Record<string, string | number>> = [];
  for (const [decoder, encoder] of list) {
    const paper = findPaperModel(decoder, encoder);
    const row: Record<string, string | number> = { model: paper?.id ?? `${decoder}__${encoder}`, size };
    try {
      const model = new MultiTaskModel({ encoder, decoder, classes: 3 });
      const x1 = tf.randomNormal([1, size, size, 3]) as tf.Tensor4D;
      row['infer b1 ms'] = +(await timeReps(reps, async () => {
        const out = model.predict(x1);
        await out.mask.data();
        tf.dispose([out.mask, out.logits]);
      })).toFixed(1);
      x1.dispose();
      const b = Math.max(batch, decoders.info(decoder).minTrainingBatch ?? 1);
      const data = syntheticDataset(size, b);
      const optimizer = new Adam({ learningRate: 1e-4 });
      const trainer = new Trainer(model, { batchSize: b, optimizer, shuffle: false });
      const all = Array.from({ length: b }, (_, i) => i);
      // Adam makes its moment slots on the first step: count tensors from the second.
      await trainer.trainStep(data, all);
      const before = tf.memory().numTensors;
      // trainStep reads the loss back (await data()), so each step has finished when it returns.
      row[`train step b${b} ms`] = +(await timeReps(reps, async () => void (await trainer.trainStep(data, all)))).toFixed(1);
      row['tensors leaked/step'] = (tf.memory().numTensors - before) / (reps + 1);
      const bytes = gpuBytes();
      row['peak GPU MiB'] = bytes != null ? +(bytes / 2 ** 20).toFixed(0) : 'n/a';
      trainer.dispose();
      optimizer.dispose();
      model.dispose();
      if (parity && paper) {
        const [result] = await runParityDir('fixtures/parity', { only: [paper.id] });
        row.parity = result ? result.status : 'no fixture';
        if (result && result.status !== 'pass') console.log(result.line);
      }
    } catch (e) {
      row.error = String((e as Error).message ?? e).split('\n')[0];
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const h = hostInfo();
  writeResults('gpu', rows, `busi on ${desc.summary.replace('busi backend: ', '')}, ${h.cores} cores`);
  if (rows.some((r) => r.error != null || (r.parity != null && r.parity !== 'pass'))) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
