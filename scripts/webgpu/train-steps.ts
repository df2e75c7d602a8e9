// One training step of each of the paper's 16 models on the webgpu backend, at a small size, with
// the tensor count checked flat from the second step to the third. The full coverage check behind
// the subset in packages/node/test/models/webgpu-training.test.ts.
//
// Usage: node packages/node/bench/run.mjs scripts/webgpu/train-steps.ts [--models=all|unet:resnet50,...]
//          [--size=32] [--batch=2] [--icd=swiftshader|path]   (BUSI_WEBGPU_ICD also sets the ICD)
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testWebGpuIcd } from '@busi/kernels';
import { PAPER_MODELS } from '../../packages/node/src/models/factory';
import { trainingStepsCheck } from '../../packages/node/src/models/training-check';

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

async function main(): Promise<void> {
  const desc = await initBackend({ backend: 'webgpu', webgpuIcd: arg('icd', '') || testWebGpuIcd() });
  const size = Number(arg('size', '32'));
  const batch = Number(arg('batch', '2'));
  const list = arg('models', 'all') === 'all'
    ? PAPER_MODELS.map((m) => ({ decoder: m.decoder, encoder: m.encoder }))
    : arg('models', '').split(',').map((s) => ({ decoder: s.split(':')[0], encoder: s.split(':')[1] }));
  let failed = 0;
  for (const m of list) {
    const t0 = performance.now();
    try {
      const r = await trainingStepsCheck(m.decoder, m.encoder, { size, batch });
      const flat = r.tensorsAfter[1] === r.tensorsAfter[2];
      if (!flat || !r.losses.every(Number.isFinite)) failed++;
      console.log(`${flat && r.losses.every(Number.isFinite) ? 'ok  ' : 'FAIL'} ${m.decoder}/${m.encoder}: losses ${r.losses.map((l) => l.toFixed(4)).join(' ')}, tensors after steps ${r.tensorsAfter.join(' ')}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${m.decoder}/${m.encoder}: ${String((e as Error).stack ?? e).split('\n').slice(0, 4).join(' | ')}`);
    }
  }
  console.log(`${list.length - failed}/${list.length} models train on ${desc.summary.replace('busi backend: ', '')} (${size}², batch ${batch}); tensors now ${tf.memory().numTensors}`);
  if (failed > 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
