import * as tf from '@tensorflow/tfjs-core';
import { IMAGENET_NORMALIZATION, resolveNormalization } from '../preprocessing/normalization';
import { validatePreprocessing, type PreprocessingSpec } from '../preprocessing/spec';

/** busi's version, recorded in every model card (kept equal to the packages' version by a test). */
export const BUSI_VERSION = '0.1.0';

/** Key of the model card in a saved model's `userDefinedMetadata`. */
export const MODEL_CARD_KEY = 'busiModelCard';

/** How a model was trained: the settings a reader needs to judge or repeat it (plain JSON values). */
export type TrainingRecipe = Record<string, string | number | boolean | null>;

/** How the data was split for training and validation. */
export interface SplitSummary {
  /** Training images. */
  train: number;
  /** Validation images (those the saved model was selected on). */
  validation: number;
  /** Held-out test images of a three-way split (absent in a two-way split). */
  test?: number;
  /** Images per class in each part, e.g. `{ benign: [350, 87] }` (train, validation[, test]). */
  perClass?: Record<string, number[]>;
  /** How the split was made, e.g. 'stratified 8:2, seed 42, identical images grouped'. */
  method?: string;
}

/**
 * What a saved model needs to be used correctly, stored in `model.json` (and rendered as
 * `MODEL_CARD.md` beside it): the input it expects, the meaning of its outputs, and how it was made.
 */
export interface ModelCard {
  /** Always 'busi-model-card'. */
  format: 'busi-model-card';
  /** Card format version. */
  version: 1;
  /** How an image becomes the model's input. */
  preprocessing: PreprocessingSpec;
  /** Class names in logit order. */
  classNames: string[];
  /** Mask probability from which a pixel counts as lesion. */
  maskThreshold: number;
  /** One line on what the model is (free text). */
  description?: string;
  /** Training settings, or null for an untrained model. */
  training?: TrainingRecipe | null;
  /** The split it was trained and validated on. */
  split?: SplitSummary | null;
  /** Validation metrics of this model (e.g. dice, iou, accuracy, macro_f1). */
  metrics?: Record<string, number> | null;
  /** busi and tfjs versions that saved it. */
  versions: {
    /** busi version ({@link BUSI_VERSION}). */
    busi: string;
    /** tfjs-core version (`tf.version_core`). */
    tfjs: string;
  };
  /** When the card was written (ISO 8601). */
  created: string;
}

/** The fields of a {@link ModelCard} a caller gives; the rest is filled in by {@link createModelCard}. */
export type ModelCardInit = Pick<ModelCard, 'preprocessing' | 'classNames'> & Partial<Omit<ModelCard, 'format' | 'version' | 'preprocessing' | 'classNames'>>;

/** A complete, validated {@link ModelCard}: threshold 0.5, versions and date filled in unless given. */
export function createModelCard(init: ModelCardInit): ModelCard {
  return validateModelCard({
    format: 'busi-model-card',
    version: 1,
    maskThreshold: 0.5,
    versions: { busi: BUSI_VERSION, tfjs: tf.version_core },
    created: new Date().toISOString(),
    ...init,
    preprocessing: { ...init.preprocessing, size: [...init.preprocessing.size] as [number, number] },
    classNames: [...init.classNames],
  });
}

/** Checks a card (e.g. one read from a file), naming the wrong field. */
export function validateModelCard(card: ModelCard, what = 'model card'): ModelCard {
  if (card?.format !== 'busi-model-card') throw new Error(`${what}: format must be 'busi-model-card', got ${JSON.stringify(card?.format)}`);
  if (card.version !== 1) throw new Error(`${what}: unsupported version ${String(card.version)} (this busi reads version 1)`);
  validatePreprocessing(card.preprocessing, `${what}: preprocessing`);
  if (!Array.isArray(card.classNames) || card.classNames.length === 0 || !card.classNames.every((c) => typeof c === 'string')) {
    throw new Error(`${what}: classNames must be a non-empty list of names`);
  }
  if (!(card.maskThreshold >= 0 && card.maskThreshold <= 1)) throw new Error(`${what}: maskThreshold must be in [0, 1], got ${card.maskThreshold}`);
  return card;
}

/** What busi assumes for a model saved without a card (busi before model cards): see {@link assumedModelCard}. */
export const ASSUMED_INPUT_SIZE = 448;

/**
 * The card busi assumes for a model folder without one (saved before model cards existed): the
 * BUSI protocol's defaults, 448×448 (or the model's fixed size), ImageNet normalisation, threshold
 * 0.5, and benign / malignant / normal for three classes. {@link describeAssumedCard} says so in words.
 */
export function assumedModelCard(model: { inChannels: number; classes: number; inputSize: [number, number] | null }): ModelCard {
  const channels = model.inChannels === 1 ? 1 : 3;
  return createModelCard({
    preprocessing: {
      size: model.inputSize ?? [ASSUMED_INPUT_SIZE, ASSUMED_INPUT_SIZE],
      channels,
      resize: 'bilinear',
      normalization: resolveNormalization(IMAGENET_NORMALIZATION, channels),
    },
    classNames: model.classes === 3 ? ['benign', 'malignant', 'normal'] : Array.from({ length: model.classes }, (_, i) => `class${i}`),
    description: 'assumed: the model was saved without a model card',
  });
}

/** One sentence naming what {@link assumedModelCard} assumed, for the warning shown to the user. */
export function describeAssumedCard(card: ModelCard): string {
  const p = card.preprocessing;
  return (
    `input ${p.size[0]}x${p.size[1]}, ${p.channels} channel(s), normalisation mean [${p.normalization.mean.join(', ')}] std [${p.normalization.std.join(', ')}], ` +
    `classes ${card.classNames.join(' / ')}, mask threshold ${card.maskThreshold}`
  );
}

/** The preprocessing stored with a model, or null when it has no card (typed accessor for exporters). */
export function modelPreprocessing(model: { card: ModelCard | null }): PreprocessingSpec | null {
  return model.card ? (JSON.parse(JSON.stringify(model.card.preprocessing)) as PreprocessingSpec) : null;
}
