import type { MultiTaskModel } from '@busi/core';
import type { OnnxPrecision } from './graph';

/** How an image must be prepared for the exported model and how its outputs are read (the model card's part). */
export interface OnnxPreprocessing {
  /** [height, width] the model was trained at (the image is resized to it). */
  inputSize?: [number, number];
  /** Per-channel mean subtracted from pixels / 255. */
  mean?: number[];
  /** Per-channel standard deviation the centred pixels are divided by. */
  std?: number[];
  /** Name of each class logit, in order. */
  classNames?: string[];
  /** Probability (sigmoid of mask_logits) at or above which a pixel is lesion. */
  maskThreshold?: number;
}

/** metadata_props keys busi writes; every value is a string, JSON where structured. */
export const ONNX_METADATA_KEYS = {
  /** {@link OnnxPreprocessing} plus `layout` and `pixelScale`, as JSON. */
  preprocessing: 'busi.preprocessing',
  /** The model's full configuration (`MultiTaskModel.getConfig()`), as JSON. */
  config: 'busi.config',
  /** 'float32' or 'float16'. */
  precision: 'busi.precision',
} as const;

/** The metadata_props of an export. */
export function metadataProps(model: MultiTaskModel, layout: 'NCHW' | 'NHWC', precision: OnnxPrecision, pre: OnnxPreprocessing = {}): Record<string, string> {
  validatePreprocessing(pre, model.config.inChannels, model.config.classes);
  const preprocessing = {
    layout,
    inputSize: pre.inputSize ?? model.config.inputSize ?? null,
    pixelScale: 1 / 255,
    mean: pre.mean ?? null,
    std: pre.std ?? null,
    classNames: pre.classNames ?? null,
    maskThreshold: pre.maskThreshold ?? 0.5,
  };
  return {
    [ONNX_METADATA_KEYS.preprocessing]: JSON.stringify(preprocessing),
    [ONNX_METADATA_KEYS.config]: JSON.stringify(model.getConfig()),
    [ONNX_METADATA_KEYS.precision]: precision,
  };
}

function validatePreprocessing(pre: OnnxPreprocessing, channels: number, classes: number): void {
  const where = 'exportOnnx: preprocessing';
  for (const key of ['mean', 'std'] as const) {
    const v = pre[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.length !== channels || !v.every(Number.isFinite)) {
      throw new Error(`${where}.${key} must hold ${channels} finite number(s) (one per input channel), got ${JSON.stringify(v)}`);
    }
  }
  if (pre.std?.some((s) => s <= 0)) throw new Error(`${where}.std must be positive, got ${JSON.stringify(pre.std)}`);
  if (pre.classNames !== undefined && pre.classNames.length !== classes) {
    throw new Error(`${where}.classNames must name the model's ${classes} classes, got ${JSON.stringify(pre.classNames)}`);
  }
  if (pre.inputSize !== undefined && !(pre.inputSize.length === 2 && pre.inputSize.every((n) => Number.isInteger(n) && n > 0))) {
    throw new Error(`${where}.inputSize must be [height, width] in pixels, got ${JSON.stringify(pre.inputSize)}`);
  }
  if (pre.maskThreshold !== undefined && !(pre.maskThreshold >= 0 && pre.maskThreshold <= 1)) {
    throw new Error(`${where}.maskThreshold must be in [0, 1], got ${pre.maskThreshold}`);
  }
}
