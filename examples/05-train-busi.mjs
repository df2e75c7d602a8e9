// The paper's protocol on the real BUSI dataset, through the API (`busi train` in @busi/node does the
// same from the command line, with resumable run folders and reports; see docs/training-on-busi.md):
// 448×448 RGB with ImageNet normalisation, a stratified 8:2 split that keeps identical images
// together, L = 0.7·Dice + 0.3·Focal, Adam (lr 1e-4, weight decay 1e-5), batch 8, the best epoch
// by validation Dice kept, then the held-out metrics of both tasks.
//
//   npm run build && node examples/05-train-busi.mjs --data /data/Dataset_BUSI_with_GT
//   # a quick look: 48 images at 64×64, resnet18, 1 epoch
//   node examples/05-train-busi.mjs --data /data/Dataset_BUSI_with_GT --limit 48 --size 64 --encoder resnet18 --epochs 1
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, EarlyStopping, ModelCheckpoint, MultiTaskMetrics, MultiTaskModel, Trainer } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import '@busi/backbones';
import '@busi/decoders';
import { BusiDataset, fileSystem, findDuplicates, initBackend, readBusiFolder, stratifiedSplit } from '@busi/node';

const { values: o } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string', default: 'runs/busi-api' },
    encoder: { type: 'string', default: 'resnet50' },
    decoder: { type: 'string', default: 'unet' },
    size: { type: 'string', default: '448' },
    epochs: { type: 'string', default: '50' },
    'batch-size': { type: 'string', default: '8' },
    lr: { type: 'string', default: '1e-4' },
    patience: { type: 'string', default: '10' },
    limit: { type: 'string' }, // train on a stratified subset of this many images (quick runs)
    seed: { type: 'string', default: '42' },
  },
});
if (!o.data) {
  console.error('usage: node examples/05-train-busi.mjs --data <BUSI folder> [--out DIR] [--encoder resnet50] [--decoder unet] [--size 448] [--epochs 50] [--limit N]');
  process.exit(2);
}
const size = Number(o.size);
const seed = Number(o.seed);
const batchSize = Number(o['batch-size']);
const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);

// 1. The files (nothing decoded yet), optionally a stratified subset of them.
let index = readBusiFolder(o.data);
if (o.limit) {
  const keep = stratifiedSplit(index.entries.map((e) => e.label), { seed, trainFraction: Number(o.limit) / index.entries.length }).train;
  index = { ...index, entries: keep.sort((a, b) => a - b).map((i) => index.entries[i]) };
}
const counts = index.classNames.map((c, k) => `${index.entries.filter((e) => e.label === k).length} ${c}`).join(', ');
console.log(`${index.entries.length} images: ${counts}`);

// 2. The split: 8:2 per class; pixel-identical images (BUSI has some, across classes too) share a side.
const dups = await findDuplicates(index);
const split = stratifiedSplit(index.entries.map((e) => e.label), { seed, trainFraction: 0.8, groups: dups.hashes });
const data = new BusiDataset(index.entries, index.classNames, { size, normalization: 'imagenet', cache: 'memory' });
const train = data.subset(split.train);
const val = data.subset(split.test);
console.log(`split: ${train.size} train, ${val.size} validation (${dups.groups.length} groups of identical images kept together)`);

// 3. Model, loss, optimiser, callbacks.
const model = new MultiTaskModel({ encoder: o.encoder, decoder: o.decoder, classes: index.classNames.length, classificationHead: { dropout: 0.5 } });
console.log(model.summary());
const bestDir = path.resolve(o.out, 'best-model');
const trainer = new Trainer(model, {
  epochs: Number(o.epochs),
  batchSize,
  // DeepLabV3+'s image pooling cannot train a BatchNorm on one sample: drop a last batch of one.
  dropLast: o.decoder === 'deeplabv3plus',
  optimizer: new Adam({ learningRate: Number(o.lr), weightDecay: 1e-5 }),
  loss: new MultiTaskLoss({ lambda: 0.7 }),
  validationData: val,
  metrics: [new MultiTaskMetrics({ classNames: [...index.classNames] })],
  seed,
  callbacks: [
    new ModelCheckpoint({ monitor: 'val_dice', saveBestOnly: true, save: (m) => m.save(fileSystem(bestDir, { force: true })).then(() => undefined) }),
    new EarlyStopping({ monitor: 'val_dice', patience: Number(o.patience) }),
    {
      onEpochEnd: (epoch, logs) =>
        console.log(
          `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, val_loss ${logs.val_loss.toFixed(4)}, val_dice ${logs.val_dice.toFixed(4)}, ` +
            `val_iou ${logs.val_iou.toFixed(4)}, val_accuracy ${logs.val_accuracy.toFixed(4)}, val_macro_f1 ${logs.val_macro_f1.toFixed(4)}`,
        ),
    },
  ],
});
const t0 = performance.now();
const history = await trainer.fit(train);
const minutes = (performance.now() - t0) / 60000;
console.log(`trained ${history.epoch.length} epoch(s), ${trainer.globalStep} steps, in ${minutes.toFixed(1)} min`);

// 4. The best model, reloaded from disk, on the held-out part.
const best = await MultiTaskModel.load(fileSystem(bestDir));
const evaluator = new Trainer(best, { batchSize, metrics: [new MultiTaskMetrics({ classNames: [...index.classNames] })] });
const final = await evaluator.evaluate(val);
console.log(
  `best model on the validation part: Dice ${final.dice.toFixed(4)}, IoU ${final.iou.toFixed(4)}, ` +
    `accuracy ${final.accuracy.toFixed(4)}, macro F1 ${final.macro_f1.toFixed(4)}`,
);
fs.writeFileSync(path.resolve(o.out, 'metrics.json'), `${JSON.stringify({ history: history.history, final }, null, 2)}\n`);

const bestValDice = Math.max(...history.history.val_dice);
const result = { images: index.entries.length, train: train.size, val: val.size, epochs: history.epoch.length, steps: trainer.globalStep, bestValDice, final };
model.dispose();
best.dispose();
console.log('RESULT ' + JSON.stringify(result));
