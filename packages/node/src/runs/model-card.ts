import { createModelCard, type Logs, type ModelCard, pluralize } from '@busi/core';
import type { SplitIndices } from '@busi/data';
import type { LoadedData } from './data';
import type { RunConfig } from './run-config';

/** The validation metrics a card records, from an epoch's logs. */
const CARD_METRICS = ['val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1', 'val_loss'] as const;

/** The model card of a training run: its preprocessing, classes, recipe and split (metrics added per saved epoch). */
export function runModelCard(config: RunConfig, data: LoadedData, split: SplitIndices): ModelCard {
  // A two-way split selects on `test`; a three-way one on `validation` and keeps `test` held out.
  const parts = split.validation ? [split.train, split.validation, split.test] : [split.train, split.test];
  const perClass = Object.fromEntries(data.classNames.map((c, k) => [c, parts.map((p) => p.filter((i) => data.labels[i] === k).length)]));
  return createModelCard({
    preprocessing: { size: [config.size, config.size], channels: 3, resize: 'bilinear', normalization: config.normalization },
    classNames: [...config.classNames],
    description: `${config.decoder} + ${config.encoder} multi-task model (tumour mask + ${config.classNames.join(' / ')}) trained by busi train on ${describeData(config)}.`,
    training: {
      data: describeData(config),
      epochs: config.epochs,
      'batch size': config.batchSize,
      'micro-batch': config.microBatch,
      optimizer: config.optimizer,
      'learning rate': config.lr,
      'weight decay': config.weightDecay,
      loss: `${config.lambda}·Dice + ${Number((1 - config.lambda).toFixed(6))}·Focal`,
      'classification dropout': config.dropout,
      augmentation: config.augment ? Object.entries(config.augment).map(([k, v]) => `${k} ${v}`).join(', ') : 'none',
      'encoder weights': config.encoderWeights ?? 'random initialisation',
      seed: config.seed,
      backend: config.backend,
    },
    split: {
      train: split.train.length,
      validation: (split.validation ?? split.test).length,
      ...(split.validation ? { test: split.test.length } : {}),
      perClass,
      method: config.splitFile
        ? `from split file ${config.splitFile}${config.fold ? `, fold ${config.fold}` : ''}`
        : `stratified, validation share ${config.valFraction}${config.testFraction ? `, test share ${config.testFraction}` : ''}, seed ${config.seed}` +
          (config.groupDuplicates ? `, ${config.duplicates === 'exact' ? 'identical' : 'near-identical'} images kept together` : ''),
    },
  });
}

/** `card` with the validation metrics of `logs` (an epoch's) and the epoch they are from. */
export function cardWithMetrics(card: ModelCard, logs: Logs, epoch: number): ModelCard {
  const metrics: Record<string, number> = { epoch: epoch + 1 };
  for (const k of CARD_METRICS) if (Number.isFinite(logs[k])) metrics[k.replace(/^val_/, '')] = logs[k];
  return { ...card, metrics };
}

function describeData(config: RunConfig): string {
  // Only the folder's name: a card travels with the model, the absolute path of the data does not.
  if (config.data.kind === 'busi') return `BUSI (${config.data.dir.split(/[\\/]/).filter(Boolean).pop()})`;
  return `${pluralize(config.data.count, 'synthetic image')} (seed ${config.data.seed})`;
}
