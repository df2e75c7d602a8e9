// Which kernels a training step spends its time in (and which are missing) on the wasm backend.
// Usage: node packages/node/bench/run.mjs packages/node/bench/profile-kernels.ts [encoder] [decoder] [size] [batch]
// INFER=1 profiles one inference (predict) instead of a training step; DETAIL=Kernel,... lists
// those kernels' calls with their shapes.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@busi/kernels';
import { KernelTimer, makeTrainBench } from './common';

async function main(): Promise<void> {
  const [encoder = 'resnet50', decoder = 'unet', size = '128', batch = '2'] = process.argv.slice(2);
  await initBackend({ backend: (process.env.BUSI_BACKEND as 'wasm') ?? 'wasm' });
  const trainBench = makeTrainBench(encoder, decoder, Number(batch), Number(size));
  const x = tf.randomNormal([Number(batch), Number(size), Number(size), 3]) as tf.Tensor4D;
  const infer = (): number => {
    const t0 = performance.now();
    const out = trainBench.model.predict(x);
    out.mask.dataSync();
    tf.dispose([out.mask, out.logits]);
    return performance.now() - t0;
  };
  const step = async (): Promise<number> => (process.env.INFER ? infer() : trainBench.step());
  console.log(`${decoder}/${encoder} ${size}px batch ${batch}${process.env.INFER ? ' inference' : ''}: warm-up ${(await step()).toFixed(0)} ms`);
  const timer = new KernelTimer();
  for (const k of (process.env.DETAIL ?? '').split(',').filter(Boolean)) timer.detailKernels.add(k);
  timer.install(tf.getBackend());
  const ms = await step();
  timer.uninstall(tf.getBackend());
  console.log(`profiled step ${ms.toFixed(0)} ms`);
  for (const r of timer.top(25)) console.log(`${r.kernel.padEnd(36)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(1).padStart(9)} ms`);
  for (const d of timer.detail.sort((a, b) => b.ms - a.ms).slice(0, 30)) console.log(`${d.kernel} ${d.shapes} ${d.ms.toFixed(1)} ms`);
  x.dispose();
  trainBench.dispose();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
