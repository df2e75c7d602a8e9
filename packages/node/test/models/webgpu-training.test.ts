// A paper model trained through the public API (Trainer.fit) on the webgpu backend, and one
// training step compared with the same step on the cpu backend. On SwiftShader (CI) this is slow,
// so the model is the real Unet/ResNet-50 at the smallest size it accepts, 32², batch 2.
// Every other paper model's training step on webgpu: scripts/webgpu/train-steps.ts.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import '@busi/backbones';
import '@busi/decoders';
import { MultiTaskModel, Trainer, tensorDataset, type TrainingBatch } from '@busi/core';
import { webgpuTests } from '../helpers/webgpu';

const SIZE = 32;
const BATCH = 2;
const LOSS_TOL = 1e-4;
const GLOBAL_GRAD_TOL = 1e-3;
const TENSOR_GRAD_TOL = 1e-2;

const { maybe, backend } = webgpuTests();

/**
 * `n` samples on the active backend: smooth images, a vertical band as the lesion, labels 0, 1, 2, ...
 * The masks are made on the device from 0/255 values, so checking them needs a read back from it.
 */
function samples(n: number, maskScale = 255): TrainingBatch {
  const pixels = SIZE * SIZE;
  const images = new Float32Array(n * pixels * 3).map((_, i) => Math.sin(0.37 * i + Math.floor(i / (pixels * 3))));
  const masks = new Float32Array(n * pixels).map((_, i) => (i % SIZE > SIZE / 3 && i % SIZE < (2 * SIZE) / 3 ? 255 : 0));
  return {
    images: tf.tensor4d(images, [n, SIZE, SIZE, 3]),
    masks: tf.tidy(() => tf.div(tf.tensor4d(masks, [n, SIZE, SIZE, 1]), maskScale)) as tf.Tensor4D,
    labels: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'),
  };
}

/** Unet/ResNet-50 as in the paper, seeded (the same weights on every backend), no dropout (a deterministic step). */
function paperModel(): MultiTaskModel {
  return new MultiTaskModel({ encoder: 'resnet50', decoder: 'unet', classes: 3, seed: 16, classificationHead: { dropout: 0 } });
}

async function read(map: tf.NamedTensorMap): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(map)) out.set(k, (await t.data()) as Float32Array);
  return out;
}

function norm(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}

/** The first batch's loss parts and gradients (by variable original name) on the active backend. */
async function firstStep(): Promise<{ logs: Record<string, number>; grads: Map<string, Float32Array> }> {
  const model = paperModel();
  const data = samples(BATCH);
  const trainer = new Trainer(model, { batchSize: BATCH, shuffle: false, metrics: [] });
  try {
    const { grads, logs } = await trainer.computeGradients(tensorDataset(data), [0, 1], { epoch: 0, batch: 0 });
    // Variable names differ between two models of one process; the PyTorch names do not.
    const torchName = new Map(model.torchParams().map((p) => [(p.variable.read() as tf.Variable).name, p.name]));
    const values = await read(grads);
    tf.dispose(grads);
    return { logs, grads: new Map([...values].map(([k, v]) => [torchName.get(k) ?? k, v])) };
  } finally {
    trainer.dispose();
    model.dispose();
    tf.dispose([data.images, data.masks, data.labels]);
  }
}

maybe("one training step of Unet/ResNet-50 on webgpu gives the cpu backend's loss and gradients", async () => {
  await tf.setBackend('cpu');
  const want = await firstStep();
  await tf.setBackend('webgpu');
  const got = await firstStep();
  expect(got.logs.loss).toBeGreaterThan(0);
  // float32 on both, in other summation orders (tiled GPU convolutions against cpu loops); the
  // cpu backend is the reference the WGSL kernels were checked against (to 1e-5 per op).
  for (const k of ['loss', 'segmentation_loss', 'classification_loss']) {
    expect(Math.abs(got.logs[k] - want.logs[k])).toBeLessThan(LOSS_TOL * Math.abs(want.logs[k]));
  }
  expect([...got.grads.keys()].sort()).toEqual([...want.grads.keys()].sort());
  let diff2 = 0;
  let ref2 = 0;
  let worst = { name: '', rel: 0 };
  const norms = [...want.grads.values()].map((g) => norm(g)).sort((a, b) => a - b);
  const median = norms[Math.floor(norms.length / 2)];
  for (const [name, g] of want.grads) {
    const d = norm(got.grads.get(name)!, g);
    diff2 += d * d;
    ref2 += norm(g) ** 2;
    // Gradients near zero (the biases before a training-mode BatchNorm are exactly 0 in exact
    // arithmetic) are compared against the median norm instead of their own.
    const rel = d / Math.max(norm(g), 1e-3 * median);
    if (rel > worst.rel) worst = { name, rel };
  }
  const global = Math.sqrt(diff2 / ref2);
  console.log(
    `webgpu vs cpu, Unet/ResNet-50 ${SIZE}² b${BATCH}: loss ${got.logs.loss} vs ${want.logs.loss}; ` +
      `gradients: global relative error ${global.toExponential(2)}, worst tensor ${worst.name} ${worst.rel.toExponential(2)} (${want.grads.size} tensors)`,
  );
  expect(global).toBeLessThan(GLOBAL_GRAD_TOL);
  expect(worst.rel).toBeLessThan(TENSOR_GRAD_TOL);
});

maybe('Trainer.fit trains Unet/ResNet-50 on webgpu: loss finite and changing, weights move, tensor count flat, validation metrics read asynchronously', async () => {
  await tf.setBackend('webgpu');
  // Checked by an asynchronous read on webgpu: no error at construction, the first getBatch rejects.
  const bad = samples(BATCH, 1);
  const badData = tensorDataset(bad);
  await expect(Promise.resolve(badData.getBatch([0]))).rejects.toThrow(/masks must hold values in \[0, 1\].*divide 0\/255 masks by 255/);
  tf.dispose([bad.images, bad.masks, bad.labels]);

  const model = paperModel();
  const train = samples(2 * BATCH);
  const val = samples(BATCH);
  const watched = () => ({ first: model.trainableVariables()[0], last: model.trainableVariables().at(-1)! });
  const before = await Promise.all(Object.values(watched()).map(async (v) => (await v.data()) as Float32Array));
  const losses: number[] = [];
  const tensors: number[] = [];
  const trainer = new Trainer(model, {
    batchSize: BATCH,
    shuffle: false,
    epochs: 1,
    validationData: tensorDataset(val),
    callbacks: [{ onBatchEnd: (_b, logs) => { losses.push(logs.loss); tensors.push(tf.memory().numTensors); } }],
  });
  try {
    const history = await trainer.fit(tensorDataset(train));
    expect(losses.length).toBe(2);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[1]).not.toBe(losses[0]);
    // Nothing accumulates from one step to the next.
    expect(tensors[1]).toBe(tensors[0]);
    const after = await Promise.all(Object.values(watched()).map(async (v) => (await v.data()) as Float32Array));
    after.forEach((w, i) => expect(norm(w, before[i])).toBeGreaterThan(0));
    const logs = history.logs(0);
    for (const k of ['val_loss', 'val_accuracy', 'val_dice', 'val_iou_pooled']) expect(Number.isFinite(logs[k])).toBe(true);
    expect(logs.val_accuracy).toBeGreaterThanOrEqual(0);
    expect(logs.val_accuracy).toBeLessThanOrEqual(1);
    console.log(`Trainer.fit on ${backend().summary.replace('busi backend: ', '')}: step losses ${losses.map((l) => l.toFixed(4)).join(', ')}; tensors after each step ${tensors.join(', ')}; val_dice ${logs.val_dice.toFixed(4)}`);
  } finally {
    trainer.dispose();
    model.dispose();
    tf.dispose([train.images, train.masks, train.labels, val.images, val.masks, val.labels]);
  }
});
