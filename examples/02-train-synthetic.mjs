// Train a multi-task model for a few steps on the built-in synthetic ultrasound set, with the
// paper's loss (0.7·Dice + 0.3·Focal) and Adam, and print the losses and held-out metrics.
//
//   npm run build && node examples/02-train-synthetic.mjs [epochs=2]
import * as tf from '@tensorflow/tfjs-core';
import {
  Adam,
  BUSI_CLASSES,
  MultiTaskMetrics,
  MultiTaskModel,
  Trainer,
  generateSynthetic,
  syntheticToTensors,
  tensorDataset,
} from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import '@busi/backbones';
import '@busi/decoders';
import { initBackend } from '@busi/node';

const epochs = Number(process.argv[2] ?? 2);
// auto: tfjs-node(-gpu) if installed, else wasm with busi's gradient kernels, else cpu.
const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);

const size = 64;
const set = generateSynthetic({ size, count: 18, seed: 7 });
const all = Array.from({ length: set.count }, (_, i) => i);
// Images stay in [0, 1] here; with ImageNet-pretrained encoders pass `normalization` (mean/std).
const train = syntheticToTensors(set, { indices: all.slice(0, 12) });
const val = syntheticToTensors(set, { indices: all.slice(12) });

const model = new MultiTaskModel({
  encoder: 'resnet18',
  decoder: { name: 'unet', decoderChannels: [64, 32, 16, 16, 8] },
  classes: BUSI_CLASSES.length,
  seed: 1, // initial weights; the trainer's seed fixes shuffling and dropout: a rerun prints the same numbers
});

// Tensors alive after each epoch: flat when training leaks nothing.
const tensorsAfterEpoch = [];
const trainer = new Trainer(model, {
  epochs,
  batchSize: 4,
  optimizer: new Adam({ learningRate: 1e-3 }),
  loss: new MultiTaskLoss({ lambda: 0.7 }), // the default; shown for clarity
  validationData: tensorDataset(val),
  metrics: [new MultiTaskMetrics({ classNames: [...BUSI_CLASSES] })],
  seed: 1,
  callbacks: [
    {
      onBatchEnd: (batch, logs) => console.log(`  batch ${batch}: loss ${logs.loss.toFixed(4)}`),
      onEpochEnd: (epoch, logs) => {
        tensorsAfterEpoch.push(tf.memory().numTensors);
        console.log(
          `epoch ${epoch + 1}/${epochs}: loss ${logs.loss.toFixed(4)} (dice ${logs.segmentation_loss.toFixed(4)}, ` +
            `focal ${logs.classification_loss.toFixed(4)}), val_loss ${logs.val_loss.toFixed(4)}, ` +
            `val_accuracy ${logs.val_accuracy.toFixed(3)}, val_dice ${logs.val_dice.toFixed(3)}, val_iou ${logs.val_iou.toFixed(3)}`,
        );
      },
    },
  ],
});
const t0 = performance.now();
const history = await trainer.fit(tensorDataset(train));
const seconds = (performance.now() - t0) / 1000;
console.log(`trained ${trainer.globalStep} steps in ${seconds.toFixed(1)} s`);

const losses = history.history.loss;
const result = {
  epochs: history.epoch.length,
  steps: trainer.globalStep,
  loss: losses,
  valLoss: history.history.val_loss,
  valAccuracy: history.history.val_accuracy,
  valDice: history.history.val_dice,
  tensorsAfterEpoch,
};
tf.dispose([train, val]);
model.dispose();
console.log('RESULT ' + JSON.stringify(result));
