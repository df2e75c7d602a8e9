// Save a model with the Node file-system IO handler, load it back (as a user of the saved model
// would: @busi/core alone knows every layer), check that it predicts exactly the same, evaluate it
// on held-out synthetic images and write prediction overlays as PNG files.
//
//   npm run build && node examples/03-save-and-evaluate.mjs [out-dir=runs/example-03]
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BUSI_CLASSES, MultiTaskMetrics, MultiTaskModel, Trainer, generateSynthetic, syntheticToTensors, tensorDataset } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { fileSystem, initBackend, toUint8, writeOverlayPng } from '@busi/node';

const outDir = path.resolve(process.argv[2] ?? 'runs/example-03');
const modelDir = path.join(outDir, 'model');
const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);

const size = 64;
const set = generateSynthetic({ size, count: 12, seed: 3 });
const idx = Array.from({ length: set.count }, (_, i) => i);
const train = syntheticToTensors(set, { indices: idx.slice(0, 8) });
const test = syntheticToTensors(set, { indices: idx.slice(8) });

const model = new MultiTaskModel({ encoder: 'resnet18', decoder: { name: 'unet', decoderChannels: [64, 32, 16, 16, 8] } });
// Two optimizer steps, so the BatchNorm running statistics saved below are not the initial ones.
await new Trainer(model, { epochs: 1, batchSize: 4, seed: 0 }).fit(tensorDataset(train));

// model.json (topology + busi configuration) and weights.bin; the save is atomic, and an existing
// folder is only replaced with force.
await model.save(fileSystem(modelDir, { force: true }));
const files = fs.readdirSync(modelDir).sort();
console.log(`saved ${files.join(', ')} to ${modelDir} (${(fs.statSync(path.join(modelDir, 'weights.bin')).size / 2 ** 20).toFixed(1)} MiB)`);

const loaded = await MultiTaskModel.load(fileSystem(modelDir));
console.log(`loaded ${loaded.config.name}: encoder ${loaded.config.encoder.name}, decoder ${loaded.config.decoder.name}`);

const a = model.predict(test.images);
const b = loaded.predict(test.images);
const maxDiff = Math.max(
  (await tf.max(tf.abs(tf.sub(a.mask, b.mask))).data())[0],
  (await tf.max(tf.abs(tf.sub(a.logits, b.logits))).data())[0],
);
console.log(`largest difference between the original and the loaded model: ${maxDiff}`);

// Evaluation of the saved model: both tasks' metrics over the held-out images.
const metrics = new MultiTaskMetrics({ classNames: [...BUSI_CLASSES] });
metrics.update(b, test);
const report = metrics.result();
console.log(
  `held-out (${test.labels.shape[0]} images): accuracy ${report.accuracy.toFixed(3)}, macro F1 ${report.macro_f1.toFixed(3)}, ` +
    `Dice ${report.dice.toFixed(3)}, IoU ${report.iou.toFixed(3)}`,
);

// Overlays: image, predicted mask (red) and ground truth (green outline).
const probs = await tf.sigmoid(b.mask).data();
const pixels = await test.images.data();
const truth = await test.masks.data();
const plane = size * size;
const overlays = [];
for (let i = 0; i < test.labels.shape[0]; i++) {
  const file = path.join(outDir, `overlay-${i}.png`);
  const image = { data: toUint8(pixels.subarray(i * plane * 3, (i + 1) * plane * 3)), height: size, width: size, channels: 3 };
  await writeOverlayPng(file, image, probs.subarray(i * plane, (i + 1) * plane), { groundTruth: truth.subarray(i * plane, (i + 1) * plane) });
  overlays.push(file);
}
console.log(`wrote ${overlays.length} overlays to ${outDir}`);

const result = { files, maxDiff, accuracy: report.accuracy, dice: report.dice, overlays };
tf.dispose([train, test, a, b]);
model.dispose();
loaded.dispose();
console.log('RESULT ' + JSON.stringify(result));
