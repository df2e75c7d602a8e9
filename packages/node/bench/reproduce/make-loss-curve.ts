/**
 * Regenerates fixtures/loss-curve: the synthetic data of the loss-curve case (data.safetensors, NHWC
 * images in [0, 1] normalised with ImageNet statistics, masks, labels) and the PyTorch/smp per-step
 * losses (loss_curve.py) from the same parity-filled weights. Needs the PyTorch reference
 * (../shared/reference-tools/README.md); run: node packages/node/bench/run.mjs packages/node/bench/reproduce/make-loss-curve.ts
 * Also prints busi's curve beside it, so the tolerance in the test can be checked against what is measured.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateSynthetic, writeSafetensors } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { LOSS_CURVE_CASE, LOSS_CURVE_DATA, LOSS_CURVE_DIR, LOSS_CURVE_REFERENCE, runBusiLossCurve } from './loss-curve-case';
import { REPRODUCE_DIR, runPython } from './python';

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

async function main(): Promise<void> {
  const c = LOSS_CURVE_CASE;
  const set = generateSynthetic({ count: c.images, size: c.size, seed: c.dataSeed });
  const images = new Float32Array(set.images.length);
  for (let i = 0; i < images.length; i++) images[i] = (set.images[i] - IMAGENET.mean[i % 3]) / IMAGENET.std[i % 3];
  fs.mkdirSync(LOSS_CURVE_DIR, { recursive: true });
  const bytes = writeSafetensors(
    {
      images: { shape: [set.count, set.height, set.width, 3], data: images },
      masks: { shape: [set.count, set.height, set.width, 1], data: set.masks },
      labels: { dtype: 'I64', shape: [set.count], data: Array.from(set.labels, (v) => BigInt(v)) },
    },
    { layout: 'NHWC', case: JSON.stringify(c) },
  );
  const tmp = `${LOSS_CURVE_DATA}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, LOSS_CURVE_DATA);

  runPython(path.join(REPRODUCE_DIR, 'loss_curve.py'), ['--data', LOSS_CURVE_DATA, '--out', LOSS_CURVE_REFERENCE]);
  const ref = JSON.parse(fs.readFileSync(LOSS_CURVE_REFERENCE, 'utf8'));

  await initBackend({ backend: 'wasm' });
  const ours = await runBusiLossCurve();
  console.log('step  smp loss   busi loss  rel diff');
  ours.forEach((s, i) => {
    const r = ref.steps[i];
    console.log(`${String(i).padStart(4)}  ${r.loss.toFixed(6)}  ${s.loss.toFixed(6)}  ${(Math.abs(s.loss - r.loss) / r.loss).toExponential(2)}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
