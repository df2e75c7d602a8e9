import { assumedModelCard, validateModelCard, type ModelCard, type MultiTaskModel } from '@busi/core';
import type { onnx } from 'onnx-proto';
import { onnxProto } from './proto';
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

/** What an exported file says about itself: its metadata_props, with the model card parsed. */
export interface OnnxModelInfo {
  /** Every metadata_props entry. */
  metadata: Record<string, string>;
  /** The model card busi wrote, or null for a file without one (not exported by busi). */
  card: ModelCard | null;
  /** Layout of `image` and `mask_logits` ('NCHW' when the file does not say). */
  layout: 'NCHW' | 'NHWC';
}

/**
 * Reads the metadata of an ONNX file's bytes (in the browser too: ONNX Runtime Web does not expose
 * metadata_props). The weights are not copied.
 * @example
 * ```ts
 * import { readOnnxModelInfo } from '@busi/onnx';
 * const bytes = new Uint8Array(await (await fetch('model.onnx')).arrayBuffer());
 * const { card, layout } = readOnnxModelInfo(bytes); // card.preprocessing, card.classNames, ...
 * ```
 */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  let proto: onnx.ModelProto;
  try {
    proto = onnxProto.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`readOnnxModelInfo: not an ONNX model (${(e as Error).message})`);
  }
  const metadata = Object.fromEntries(proto.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  const cardJson = metadata[ONNX_METADATA_KEYS.modelCard];
  const card = cardJson ? validateModelCard(JSON.parse(cardJson) as ModelCard, `ONNX metadata ${ONNX_METADATA_KEYS.modelCard}`) : null;
  return { metadata, card, layout: metadata[ONNX_METADATA_KEYS.layout] === 'NHWC' ? 'NHWC' : 'NCHW' };
}
