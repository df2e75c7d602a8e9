import '@busi/backbones';
import '@busi/decoders';
import { decoders, encoders } from '@busi/core';

/** One entry of {@link PAPER_PRESETS}. */
export interface PaperPreset {
  /** Canonical decoder registry name, e.g. 'unetplusplus'. */
  decoder: string;
  /** Canonical encoder registry name, e.g. 'tu-wide_resnet50_2'. */
  encoder: string;
  /** smp v0.3.3's Conv2d + Linear multiply-accumulates of the whole model at batch 1, 448², in units of 1e9. */
  gmacs: number;
  /** The encoder's share of `gmacs`, same units. */
  encoderGmacs: number;
}

/**
 * The 16 models of Chung et al. as plain data (keras-hub-style presets): decoder and encoder by
 * canonical registry name, and the one reference fact the registry does not hold, smp v0.3.3's
 * Conv2d + Linear multiply-accumulates at batch 1, 448² (1e9, 2 decimals, architectures.md).
 */
export const PAPER_PRESETS: readonly PaperPreset[] = [
  { decoder: 'unet', encoder: 'resnet50', gmacs: 32.56, encoderGmacs: 16.35 },
  { decoder: 'unet', encoder: 'resnext50_32x4d', gmacs: 33.13, encoderGmacs: 16.91 },
  { decoder: 'unet', encoder: 'tu-wide_resnet50_2', gmacs: 61.8, encoderGmacs: 45.58 },
  { decoder: 'unet', encoder: 'efficientnet-b4', gmacs: 14.11, encoderGmacs: 5.84 },
  { decoder: 'unetplusplus', encoder: 'resnet50', gmacs: 175.91, encoderGmacs: 16.35 },
  { decoder: 'unetplusplus', encoder: 'resnext50_32x4d', gmacs: 176.48, encoderGmacs: 16.91 },
  { decoder: 'unetplusplus', encoder: 'tu-wide_resnet50_2', gmacs: 205.15, encoderGmacs: 45.58 },
  { decoder: 'unetplusplus', encoder: 'efficientnet-b4', gmacs: 29.71, encoderGmacs: 5.84 },
  { decoder: 'fpn', encoder: 'resnet50', gmacs: 23.85, encoderGmacs: 16.35 },
  { decoder: 'fpn', encoder: 'resnext50_32x4d', gmacs: 24.41, encoderGmacs: 16.91 },
  { decoder: 'fpn', encoder: 'tu-wide_resnet50_2', gmacs: 53.08, encoderGmacs: 45.58 },
  { decoder: 'fpn', encoder: 'efficientnet-b4', gmacs: 12.0, encoderGmacs: 5.84 },
  { decoder: 'deeplabv3plus', encoder: 'resnet50', gmacs: 27.99, encoderGmacs: 24.83 },
  { decoder: 'deeplabv3plus', encoder: 'resnext50_32x4d', gmacs: 28.0, encoderGmacs: 24.83 },
  { decoder: 'deeplabv3plus', encoder: 'tu-wide_resnet50_2', gmacs: 72.8, encoderGmacs: 69.63 },
  { decoder: 'deeplabv3plus', encoder: 'efficientnet-b4', gmacs: 13.67, encoderGmacs: 11.96 },
];

/** Parameter counts of one of the paper's models as smp v0.3.3 reports them. */
export interface PaperModelParams {
  /** The sum of the four parts below (`dead` is included in `encoder`). */
  total: number;
  /** The encoder's parameters, as registered (`EncoderInfo.params`). */
  encoder: number;
  /** The decoder's parameters with this encoder's channels. */
  decoder: number;
  /** The segmentation head, for one mask channel. */
  segmentationHead: number;
  /** The classification head: a Linear from the deepest feature's channels to 3 classes, with bias. */
  classificationHead: number;
  /** Parameters that never receive a gradient (EfficientNet's kept, unused conv_head and bn). */
  dead: number;
}

/** One of the 16 encoder × decoder combinations of Chung et al., with the reference's numbers. */
export interface PaperModel {
  /** `<smp decoder>__<smp encoder>`, the parity fixture's name, e.g. `FPN__tu-wide_resnet50_2`. */
  id: string;
  /** Canonical decoder registry name, e.g. 'fpn'. */
  decoder: string;
  /** Canonical encoder registry name, e.g. 'tu-wide_resnet50_2'. */
  encoder: string;
  /** smp's class name of the decoder, e.g. 'FPN'. */
  smpDecoder: string;
  /** smp's name of the encoder, e.g. 'tu-wide_resnet50_2'. */
  smpEncoder: string;
  /** At 3 input channels, 1 mask channel, 3 classes. */
  params: PaperModelParams;
  /** Conv2d + Linear multiply-accumulates at batch 1, 448², in units of 1e9 (reference, 2 decimals). */
  gmacs: number;
  /** The encoder's share of `gmacs`. */
  encoderGmacs: number;
}

/** Number of image classes of the paper's classification head. */
const PAPER_CLASSES = 3;

/** A preset with its reference counts, read from the encoder's and the decoder's registry entries. */
function paperModel(preset: PaperPreset): PaperModel {
  const enc = encoders.info(preset.encoder);
  const dec = decoders.info(preset.decoder);
  if (!enc.reference || !dec.reference || enc.params == null) {
    throw new Error(`paper model ${preset.decoder}__${preset.encoder}: its registry entries lack reference facts`);
  }
  const decoderParams = dec.reference.params[preset.encoder];
  if (decoderParams == null) throw new Error(`decoder '${preset.decoder}' has no reference parameter count with '${preset.encoder}'`);
  const deepest = enc.outChannels[enc.outChannels.length - 1];
  const params = {
    encoder: enc.params,
    decoder: decoderParams,
    segmentationHead: dec.reference.segmentationHeadParams,
    classificationHead: deepest * PAPER_CLASSES + PAPER_CLASSES,
  };
  return {
    id: `${dec.reference.name}__${enc.reference.name}`,
    decoder: decoders.resolve(preset.decoder),
    encoder: encoders.resolve(preset.encoder),
    smpDecoder: dec.reference.name,
    smpEncoder: enc.reference.name,
    params: {
      total: params.encoder + params.decoder + params.segmentationHead + params.classificationHead,
      ...params,
      dead: enc.unusedParams ?? 0,
    },
    gmacs: preset.gmacs,
    encoderGmacs: preset.encoderGmacs,
  };
}

/** The 16 models of the paper (4 decoders × 4 encoders) with smp v0.3.3's parameter counts and MACs. */
export const PAPER_MODELS: readonly PaperModel[] = PAPER_PRESETS.map(paperModel);

/** The paper model with this id (`FPN__resnet50`) or these decoder and encoder names (any alias). */
export function findPaperModel(decoderOrId: string, encoder?: string): PaperModel | undefined {
  if (encoder == null) return PAPER_MODELS.find((m) => m.id.toLowerCase() === decoderOrId.trim().toLowerCase());
  if (!decoders.has(decoderOrId) || !encoders.has(encoder)) return undefined;
  const d = decoders.resolve(decoderOrId);
  const e = encoders.resolve(encoder);
  return PAPER_MODELS.find((m) => m.decoder === d && m.encoder === e);
}
