// npm run soak [-- --steps N --size S --backend B]: trains a tiny model for 2,000 optimizer steps
// (checkpointing the trainer state and running a validation pass every 100) and prints the
// process RSS, the JS heap and tf.memory().numTensors every 100 steps; a leak shows as a trend.
import * as tf from '@tensorflow/tfjs-core';
import { Adam, Trainer, encodeTrainerState, generateSynthetic, syntheticToTensors, tensorDataset } from '@busi/core';
import { initBackend, type BackendChoice } from '@busi/kernels';
import '../../packages/node/src/demo/slim-resnet';
import { createModel } from '../../packages/node/src/models/factory';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '2000'));
  const size = Number(arg('size', '32'));
  const backend = await initBackend({ backend: arg('backend', 'wasm') as BackendChoice, log: false });
  const set = generateSynthetic({ size, count: 16, seed: 3, channels: 3 });
  const data = syntheticToTensors(set);
  const dataset = tensorDataset(data);
  const model = createModel({ encoder: 'slim-resnet', decoder: { name: 'unet', decoderChannels: [16, 16, 8, 8, 8] }, classes: 3 });
  const optimizer = new Adam({ learningRate: 1e-3 });
  const trainer = new Trainer(model, { batchSize: 4, optimizer });
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(`soak: ${steps} steps, ${size}x${size}, batch 4, backend ${backend.backend}`);
  console.log('step    rss MB  heap MB  tensors');
  const rows: { step: number; rss: number; tensors: number }[] = [];
  for (let step = 1; step <= steps; step++) {
    const k = (step * 4) % 16;
    await trainer.trainStep(dataset, [k, k + 1, k + 2, k + 3]);
    if (step % 100 === 0) {
      // What a run does each epoch: validate and serialise the trainer state.
      await trainer.evaluate(dataset);
      const state = await trainer.getState();
      await encodeTrainerState(state);
      tf.dispose(state.optimizerWeights.map((w) => w.tensor));
      const m = process.memoryUsage();
      rows.push({ step, rss: m.rss, tensors: tf.memory().numTensors });
      console.log(`${String(step).padStart(4)}  ${mb(m.rss).padStart(8)} ${mb(m.heapUsed).padStart(8)} ${String(tf.memory().numTensors).padStart(8)}`);
    }
  }
  const first = rows[Math.min(1, rows.length - 1)];
  const last = rows[rows.length - 1];
  console.log(
    `soak: tensors ${first.tensors} at step ${first.step} -> ${last.tensors} at step ${last.step}; ` +
      `RSS ${mb(first.rss)} MB -> ${mb(last.rss)} MB (${(((last.rss - first.rss) / first.rss) * 100).toFixed(1)}%)`,
  );
  process.exitCode = last.tensors === first.tensors ? 0 : 1;
  trainer.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose([data.images, data.masks, data.labels]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
