// Trains the small model the browser demo ships (examples/browser/model): a narrow ResNet + U-Net
// on the synthetic ultrasound set, seeded, saved with its model card (64×64, the page reads the
// preprocessing from it). About 300 KB of weights; a few minutes on two CPU cores.
//
//   node examples/run-from-source.mjs examples/browser/train-model.mjs [out=examples/browser/model] [epochs=10]
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, BUSI_CLASSES, MultiTaskMetrics, MultiTaskModel, Trainer, createModelCard, generateSynthetic, syntheticToTensors, tensorDataset } from '@busi/core';
import '@busi/decoders';
import { fileSystem } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { SlimResNetEncoder } from '@busi/node';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? path.join(here, 'model'));
const epochs = Number(process.argv[3] ?? 10);
const size = 64;
const seed = 0;
const normalization = { mean: [0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2] };

const backend = await initBackend({ log: false });
console.log(backend.summary);
const set = generateSynthetic({ size, count: 300, seed, classBalance: [1, 1, 1] });
const trainIdx = Array.from({ length: 240 }, (_, i) => i);
const valIdx = Array.from({ length: 60 }, (_, i) => 240 + i);
const train = syntheticToTensors(set, { indices: trainIdx, normalization });
const val = syntheticToTensors(set, { indices: valIdx, normalization });

const model = new MultiTaskModel({
  encoder: new SlimResNetEncoder({ widths: [8, 8, 16, 24, 32] }),
  decoder: { name: 'unet', decoderChannels: [32, 16, 16, 8, 8] },
  classes: BUSI_CLASSES.length,
  classificationHead: { dropout: 0.2 },
  name: 'browser_demo_unet__slim-resnet',
  seed,
});
console.log(`${model.countParams().total} parameters`);
const metrics = new MultiTaskMetrics({ classNames: [...BUSI_CLASSES] });
const trainer = new Trainer(model, {
  epochs,
  batchSize: 8,
  seed,
  optimizer: new Adam({ learningRate: 3e-3 }),
  validationData: tensorDataset(val),
  metrics: [metrics],
  callbacks: [{ onEpochEnd: (e, l) => console.log(`epoch ${e + 1}: loss ${l.loss.toFixed(4)} val_dice ${l.val_dice.toFixed(3)} val_accuracy ${l.val_accuracy.toFixed(3)}`) }],
});
await trainer.fit(tensorDataset(train));
const logs = await trainer.evaluate(tensorDataset(val));
const report = metrics.report();
model.setCard(
  createModelCard({
    preprocessing: { size: [size, size], channels: 3, resize: 'bilinear', normalization },
    classNames: [...BUSI_CLASSES],
    description: 'The browser demo model: a narrow ResNet + U-Net trained on busi\'s synthetic ultrasound images (not on patients; for trying the page only).',
    training: { data: `300 synthetic ${size}x${size} images (seed ${seed}, equal classes), 240 train / 60 validation`, epochs, 'batch size': 8, optimizer: 'adam', 'learning rate': 3e-3, seed },
    split: { train: trainIdx.length, validation: valIdx.length, method: 'first 240 / last 60 of the generated set' },
    metrics: { dice: report.segmentation.perImage.dice, iou: report.segmentation.perImage.iou, accuracy: report.classification.accuracy, macro_f1: report.classification.macroF1, loss: logs.loss },
  }),
);
await model.save(fileSystem(out, { force: true }));
console.log(`saved ${out}: dice ${report.segmentation.perImage.dice.toFixed(3)}, accuracy ${report.classification.accuracy.toFixed(3)}`);
tf.dispose([train.images, train.masks, train.labels, train.oneHot, val.images, val.masks, val.labels, val.oneHot]);
trainer.dispose();
model.dispose();
