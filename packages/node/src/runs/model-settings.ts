import * as path from 'node:path';
import {
  MODEL_CARD_KEY,
  assumedModelCard,
  createModelCard,
  describeAssumedCard,
  type ModelCard,
  type MultiTaskModelConfig,
  type PreprocessingSpec,
} from '@busi/core';
import { readJson } from './run-folder';
import type { RunConfig } from './train-run';

/** What {@link modelSettings} needs of a model: its architecture and card (a `MultiTaskModel` has both). */
export interface ModelDescription {
  /** The architecture (input channels, classes, fixed input size). */
  config: Pick<MultiTaskModelConfig, 'inChannels' | 'classes' | 'inputSize'>;
  /** The model card, or null. */
  card: ModelCard | null;
}

/** The architecture and model card of a saved model folder, read from its model.json without loading weights. */
export function readModelDescription(dir: string): ModelDescription {
  const json = readJson<{ userDefinedMetadata?: Record<string, unknown> }>(path.join(dir, 'model.json'), 'model');
  const config = json.userDefinedMetadata?.['busi'] as MultiTaskModelConfig | undefined;
  if (!config) throw new Error(`'${path.join(dir, 'model.json')}' has no busi metadata (was it saved by MultiTaskModel.save?)`);
  return { config, card: (json.userDefinedMetadata?.[MODEL_CARD_KEY] as ModelCard | undefined) ?? null };
}

/** How to feed a loaded model and read its outputs, and where that came from. */
export interface ModelSettings {
  /** Input size, channels, resize and normalisation. */
  preprocessing: PreprocessingSpec;
  /** Class names in logit order. */
  classNames: string[];
  /** Mask probability threshold. */
  maskThreshold: number;
  /** 'card': the model's own card; 'run': its run folder's config.json; 'assumed': neither was there. */
  source: 'card' | 'run' | 'assumed';
}

/** Options the user gave explicitly (undefined: not given). */
export interface ExplicitModelOptions {
  /** `--size`. */
  size?: number;
  /** `--threshold`. */
  threshold?: number;
}

/**
 * The settings to use a model with: its model card, else the config.json of the run folder it sits
 * in, else busi's assumptions (said in a warning naming them). An explicit option wins, with a
 * warning when it contradicts the card or run, since a model fed otherwise than it was trained
 * gives wrong answers without failing.
 */
export function modelSettings(model: ModelDescription, run: RunConfig | null, explicit: ExplicitModelOptions, warn: (message: string) => void, what = 'the model'): ModelSettings {
  let card: ModelCard;
  let source: ModelSettings['source'];
  if (model.card) {
    card = model.card;
    source = 'card';
  } else if (run) {
    card = createModelCard({
      preprocessing: { size: [run.size, run.size], channels: model.config.inChannels === 1 ? 1 : 3, resize: 'bilinear', normalization: run.normalization },
      classNames: run.classNames,
    });
    source = 'run';
    warn(`${what} has no model card (saved by an older busi); using its run folder's config.json: ${describeAssumedCard(card)}`);
  } else {
    card = assumedModelCard(model.config);
    source = 'assumed';
    warn(`${what} has no model card and no run folder (saved by an older busi); assuming ${describeAssumedCard(card)}. If it was trained otherwise, its outputs will be wrong: pass --size to match.`);
  }
  const preprocessing: PreprocessingSpec = JSON.parse(JSON.stringify(card.preprocessing));
  let maskThreshold = card.maskThreshold;
  const known = source === 'assumed' ? null : source === 'card' ? 'the model card' : "the run's config.json";
  if (explicit.size !== undefined) {
    const [h, w] = preprocessing.size;
    if (known && (explicit.size !== h || explicit.size !== w)) {
      warn(`--size ${explicit.size} differs from ${known} (${h}x${w}, the size the model was trained at); using ${explicit.size}x${explicit.size} as asked`);
    }
    preprocessing.size = [explicit.size, explicit.size];
  }
  if (explicit.threshold !== undefined) {
    if (known && explicit.threshold !== maskThreshold) warn(`--threshold ${explicit.threshold} differs from ${known}'s mask threshold ${maskThreshold}; using ${explicit.threshold} as asked`);
    maskThreshold = explicit.threshold;
  }
  return { preprocessing, classNames: [...card.classNames], maskThreshold, source };
}
