import { assumedModelCard, validateModelCard, type ModelCard, type MultiTaskModel } from '@busi/core';
import type { OnnxPrecision } from './graph';

/** metadata_props keys busi writes; every value is a string, JSON where structured. */
export const ONNX_METADATA_KEYS = {
  /** The model card as JSON: preprocessing (size, channels, normalisation), class names, mask threshold, training. */
  modelCard: 'busi.model_card',
  /** The model's full configuration (`MultiTaskModel.getConfig()`), as JSON. */
  config: 'busi.config',
  /** Layout of `image` and `mask_logits`: 'NCHW' or 'NHWC'. */
  layout: 'busi.layout',
  /** 'float32' or 'float16'. */
  precision: 'busi.precision',
} as const;

/**
 * The card an export carries: the one given, else the model's own, else the one busi assumes for a
 * model without a card (its description says so). A given card must fit the model.
 */
export function exportCard(model: MultiTaskModel, card?: ModelCard | null): ModelCard {
  if (card == null) return model.card ?? assumedModelCard(model.config);
  validateModelCard(card, 'exportOnnx: card');
  const { inChannels, classes } = model.config;
  if (card.preprocessing.channels !== inChannels) throw new Error(`exportOnnx: card: preprocessing gives ${card.preprocessing.channels} channel(s), the model takes ${inChannels}`);
  if (card.classNames.length !== classes) throw new Error(`exportOnnx: card: ${card.classNames.length} class names for a model with ${classes} classes`);
  model.validateInput([1, ...card.preprocessing.size, inChannels], 'exportOnnx: card: preprocessing size');
  return card;
}

/** The metadata_props of an export. */
export function metadataProps(model: MultiTaskModel, card: ModelCard, layout: 'NCHW' | 'NHWC', precision: OnnxPrecision): Record<string, string> {
  return {
    [ONNX_METADATA_KEYS.modelCard]: JSON.stringify(card),
    [ONNX_METADATA_KEYS.config]: JSON.stringify(model.getConfig()),
    [ONNX_METADATA_KEYS.layout]: layout,
    [ONNX_METADATA_KEYS.precision]: precision,
  };
}
