// Step time of data-parallel training (createDataParallel) with 1 and N workers against the
// single-process Trainer step. Usage:
//   node packages/node/bench/run.mjs packages/node/bench/parallel.ts [encoder] [size] [batch] [steps]
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, MultiTaskModel, Trainer, tensorDataset } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { initBackend } from '@busi/kernels';
import { createDataParallel } from '../src/parallel/data-parallel';

const [encoder = 'resnet18', sizeArg = '128', batchArg = '8', stepsArg = '4'] = process.argv.slice(2);
const size = Number(sizeArg);
const batchSize = Number(batchArg);
const steps = Number(stepsArg);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(label: string, step: () => Promise<unknown>): Promise<number> {
  await step(); // warm-up: kernel caches, first-use allocations
  const wall: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await step();
    wall.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const ms = median(wall);
  console.log(`${label.padEnd(22)} ${ms.toFixed(0).padStart(7)} ms/step (median of ${steps}), process CPU ${((cpu.user + cpu.system) / 1000 / steps).toFixed(0)} ms/step`);
  return ms;
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const model = new MultiTaskModel({ encoder, decoder: 'unet', classes: 3 });
  const data = {
    images: tf.randomNormal([batchSize, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    masks: tf.cast(tf.greater(tf.randomUniform([batchSize, size, size, 1], 0, 1, 'float32', 2), 0.7), 'float32') as tf.Tensor4D,
    labels: tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 3), 'int32'),
  };
  const indices = Array.from({ length: batchSize }, (_, i) => i);
  console.log(`Unet/${encoder} ${size}² batch ${batchSize}, wasm, ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(1)}`);

  const optimizer = new Adam({ learningRate: 1e-4 });
  const trainer = new Trainer(model, { batchSize, optimizer });
  const dataset = tensorDataset(data);
  const single = await time('single process', () => trainer.trainStep(dataset, indices));

  const results: Array<[number, number]> = [];
  for (const workers of [1, Math.max(2, os.availableParallelism())]) {
    const dp = await createDataParallel({ model, workers });
    try {
      const parts = { grads: [] as number[], sync: [] as number[], worker: [] as number[] };
      const ms = await time(`${workers} worker${workers > 1 ? 's' : ''}`, async () => {
        const t0 = performance.now();
        const { grads } = await dp.computeGradients(data);
        parts.worker.push(Math.max(...dp.workerTimes()));
        optimizer.applyGradients(grads);
        tf.dispose(grads);
        const t1 = performance.now();
        await dp.syncWeights();
        parts.grads.push(t1 - t0);
        parts.sync.push(performance.now() - t1);
      });
      console.log(`  of which: gradients+optimizer ${median(parts.grads).toFixed(0)} ms (slowest worker's compute ${median(parts.worker).toFixed(0)} ms), weight broadcast ${median(parts.sync).toFixed(0)} ms`);
      results.push([workers, ms]);
    } finally {
      await dp.dispose();
    }
  }
  for (const [w, ms] of results) console.log(`speed-up, ${w} worker(s) vs single process: ${(single / ms).toFixed(2)}×`);
  trainer.dispose();
  optimizer.dispose();
  tf.dispose(data);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
