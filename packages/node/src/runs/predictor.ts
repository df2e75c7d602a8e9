import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, type MultiTaskOutput, pluralize } from '@busi/core';
import { fileSystem } from '@busi/data';

/** Test-time augmentation: none, or the mean with the horizontally mirrored input (mirrored back). */
export type TtaMode = 'none' | 'flip';

/**
 * Something that maps a batch of preprocessed images to multi-task outputs in logit space: one
 * model, a model with test-time augmentation, or an ensemble. Outputs are new tensors owned by the caller.
 */
export interface Predictor {
  /** Mask logits and class logits of `images` `[N, H, W, C]`, inference mode. */
  forward(images: tf.Tensor4D): MultiTaskOutput;
  /** Describes the predictor for reports ('1 model', '5 models, flip TTA'). */
  readonly describe: string;
  /** Frees the models. */
  dispose(): void;
}

const EPS = 1e-7;

/** Mean sigmoid mask and softmax class probabilities of `models` on `x` (and on its mirror image with flip TTA). */
function meanProbabilities(models: readonly MultiTaskModel[], x: tf.Tensor4D, tta: TtaMode): { mask: tf.Tensor4D; classes: tf.Tensor2D } {
  return tf.tidy(() => {
    const masks: tf.Tensor4D[] = [];
    const classes: tf.Tensor2D[] = [];
    const mirrored = tta === 'flip' ? tf.image.flipLeftRight(x) : null;
    for (const m of models) {
      const o = m.forward(x, false);
      masks.push(tf.sigmoid(o.mask));
      classes.push(tf.softmax(o.logits));
      if (mirrored) {
        const f = m.forward(mirrored, false);
        masks.push(tf.image.flipLeftRight(tf.sigmoid(f.mask) as tf.Tensor4D));
        classes.push(tf.softmax(f.logits));
      }
    }
    return { mask: tf.mean(tf.stack(masks), 0) as tf.Tensor4D, classes: tf.mean(tf.stack(classes), 0) as tf.Tensor2D };
  });
}

/**
 * A predictor averaging probabilities (sigmoid masks, softmax classes) over `models` and, with
 * flip TTA, over each model's mirrored input; the mean is returned as logits (log-odds for the
 * mask, log-probabilities for the classes), so metrics, thresholds and losses written for one
 * model's logits apply unchanged. One model without TTA returns its own logits untouched.
 */
export function ensemblePredictor(models: readonly MultiTaskModel[], tta: TtaMode = 'none'): Predictor {
  if (models.length === 0) throw new Error('ensemblePredictor: no models');
  const plain = models.length === 1 && tta === 'none';
  return {
    describe: `${pluralize(models.length, 'model')}${models.length > 1 ? ' (mean of probabilities)' : ''}${tta === 'flip' ? ', horizontal-flip TTA' : ''}`,
    forward(images) {
      if (plain) return models[0].forward(images, false);
      const { mask, classes } = meanProbabilities(models, images, tta);
      const out = tf.tidy(() => {
        const p = tf.clipByValue(mask, EPS, 1 - EPS);
        return { mask: tf.sub(tf.log(p), tf.log(tf.sub(1, p))) as tf.Tensor4D, logits: tf.log(tf.clipByValue(classes, EPS, 1)) as tf.Tensor2D };
      });
      tf.dispose([mask, classes]);
      return out;
    },
    dispose() {
      for (const m of models) m.dispose();
    },
  };
}

/** Loads the model folders and wraps them in an {@link ensemblePredictor}. */
export async function loadPredictor(modelDirs: readonly string[], tta: TtaMode = 'none'): Promise<Predictor> {
  const models: MultiTaskModel[] = [];
  try {
    for (const dir of modelDirs) models.push(await MultiTaskModel.load(fileSystem(dir)));
  } catch (e) {
    for (const m of models) m.dispose();
    throw e;
  }
  return ensemblePredictor(models, tta);
}
