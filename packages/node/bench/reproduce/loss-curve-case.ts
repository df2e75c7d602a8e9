/**
 * The frozen loss-curve case: a tiny training whose per-step losses PyTorch/smp produced from the
 * same weights (the parity fill) and the same batches. `make-loss-curve.ts` writes its data and runs
 * the reference (loss_curve.py); the test in packages/node/test/models/loss-curve.test.ts trains busi
 * on it and compares. Everything both sides need is stated here once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, Trainer, applyParityFill, readSafetensors, tensorDataset, type MultiTaskModel } from '@busi/core';
import { DiceLoss, FocalLoss, MultiTaskLoss } from '@busi/losses';
import { createModel } from '../../src/models/factory';
import { repoRoot } from './python';

/** The case, as plain data (loss_curve.py reads the same JSON from the fixture). */
export const LOSS_CURVE_CASE = {
  smpDecoder: 'Unet',
  smpEncoder: 'resnet18',
  /** Parity-fill salt of the starting weights (fixtures/parity/README.md). */
  salt: 'loss-curve',
  images: 16,
  size: 64,
  /** Seed of the synthetic images. */
  dataSeed: 3,
  batchSize: 4,
  epochs: 2,
  learningRate: 1e-4,
  weightDecay: 1e-5,
  lambda: 0.7,
  /** The reduced-128 protocol's loss: batch-pooled foreground+background soft Dice with ε = 1e-6, softmax focal γ = 2. */
  diceSmooth: 1e-6,
  focalGamma: 2,
} as const;

export const LOSS_CURVE_DIR = path.join(repoRoot(), 'fixtures', 'loss-curve');
export const LOSS_CURVE_DATA = path.join(LOSS_CURVE_DIR, 'data.safetensors');
export const LOSS_CURVE_REFERENCE = path.join(LOSS_CURVE_DIR, `${LOSS_CURVE_CASE.smpDecoder}__${LOSS_CURVE_CASE.smpEncoder}.json`);

/** One optimizer step's losses. */
export interface StepLosses {
  loss: number;
  dice: number;
  focal: number;
  /** Live tensors after the step (busi only). */
  tensors?: number;
}

/** The case's model at its starting weights: dropout off (its draws cannot match PyTorch's), parity-filled. */
export function lossCurveModel(): MultiTaskModel {
  const c = LOSS_CURVE_CASE;
  const model = createModel({ encoder: c.smpEncoder, decoder: c.smpDecoder, classes: 3, classificationHead: { dropout: 0 } });
  applyParityFill(model, c.salt);
  return model;
}

/** Trains busi on the case's data in the fixed batch order and returns each step's losses. */
export async function runBusiLossCurve(model: MultiTaskModel = lossCurveModel()): Promise<StepLosses[]> {
  const c = LOSS_CURVE_CASE;
  const file = readSafetensors(new Uint8Array(fs.readFileSync(LOSS_CURVE_DATA)));
  const get = (name: string) => file.tensors.get(name)!;
  const images = tf.tensor4d(get('images').data as Float32Array, get('images').shape as [number, number, number, number]);
  const masks = tf.tensor4d(get('masks').data as Float32Array, get('masks').shape as [number, number, number, number]);
  const labels = tf.tensor1d(Array.from(get('labels').data as ArrayLike<number>, Number), 'int32');
  const steps: StepLosses[] = [];
  const optimizer = new Adam({ learningRate: c.learningRate, weightDecay: c.weightDecay });
  try {
    const loss = new MultiTaskLoss({
      lambda: c.lambda,
      segmentation: new DiceLoss({ variant: 'paper', averaging: 'batch', smooth: c.diceSmooth }),
      classification: new FocalLoss({ variant: 'softmax', gamma: c.focalGamma }),
    });
    const trainer = new Trainer(model, {
      epochs: c.epochs,
      batchSize: c.batchSize,
      shuffle: false,
      optimizer,
      loss,
      metrics: [],
      callbacks: [
        {
          onBatchEnd: (_b, logs) => {
            steps.push({ loss: logs.loss, dice: logs.segmentation_loss, focal: logs.classification_loss, tensors: tf.memory().numTensors });
          },
        },
      ],
    });
    await trainer.fit(tensorDataset({ images, masks, labels }));
  } finally {
    tf.dispose([images, masks, labels]);
    optimizer.dispose();
  }
  return steps;
}
