import '@busi/backbones';
import '@busi/decoders';
import {
  MultiTaskModel,
  decoders,
  encoders,
  listDecoders,
  listEncoders,
  type Decoder,
  type Encoder,
  type MultiTaskModelArgs,
} from '@busi/core';

/** smp decoder class names and other spellings → busi registry names. */
const DECODER_ALIASES: Readonly<Record<string, string>> = {
  unet: 'unet',
  unetplusplus: 'unetplusplus',
  'unet++': 'unetplusplus',
  fpn: 'fpn',
  deeplabv3plus: 'deeplabv3plus',
  'deeplabv3+': 'deeplabv3plus',
};

/** smp encoder names → busi registry names where they differ. */
const ENCODER_ALIASES: Readonly<Record<string, string>> = {
  'tu-wide_resnet50_2': 'wide_resnet50_2',
  'tu-resnet50': 'resnet50',
  'tu-resnext50_32x4d': 'resnext50_32x4d',
};

/** The busi registry name of an encoder given by busi or smp name. */
export function encoderRegistryName(name: string): string {
  const key = name.trim().toLowerCase();
  return ENCODER_ALIASES[key] ?? key;
}

/** The busi registry name of a decoder given by busi or smp class name ('UnetPlusPlus', 'DeepLabV3Plus', ...). */
export function decoderRegistryName(name: string): string {
  const key = name.trim().toLowerCase();
  return DECODER_ALIASES[key] ?? key;
}

/** Parameter counts of one of the paper's models as smp v0.3.3 reports them (architectures.md). */
export interface PaperModelParams {
  total: number;
  encoder: number;
  decoder: number;
  segmentationHead: number;
  classificationHead: number;
  /** Parameters that never receive a gradient (EfficientNet-B4's kept, unused conv_head and bn). */
  dead: number;
}

/** One of the 16 encoder × decoder combinations of Chung et al., with the reference's numbers. */
export interface PaperModel {
  /** `<smp decoder>__<smp encoder>`, the parity fixture's name, e.g. `FPN__tu-wide_resnet50_2`. */
  id: string;
  /** busi registry names. */
  decoder: string;
  encoder: string;
  /** smp names. */
  smpDecoder: string;
  smpEncoder: string;
  /** At 3 input channels, 1 mask channel, 3 classes. */
  params: PaperModelParams;
  /** Conv2d + Linear multiply-accumulates at batch 1, 448², in units of 1e9 (reference, 2 decimals). */
  gmacs: number;
  /** The encoder's share of `gmacs`. */
  encoderGmacs: number;
}

const ENCODERS: ReadonlyArray<[string, string, number]> = [
  ['resnet50', 'resnet50', 23_508_032],
  ['resnext50_32x4d', 'resnext50_32x4d', 22_979_904],
  ['tu-wide_resnet50_2', 'wide_resnet50_2', 66_834_240],
  ['efficientnet-b4', 'efficientnet-b4', 17_548_616],
];

// [smp decoder, busi decoder, decoder params, seg head params, per-encoder [GMACs, encoder GMACs]].
const DECODERS: ReadonlyArray<[string, string, number[], number, Array<[number, number]>]> = [
  ['Unet', 'unet', [9_012_928, 9_012_928, 9_012_928, 2_676_928], 145, [[32.56, 16.35], [33.13, 16.91], [61.8, 45.58], [14.11, 5.84]]],
  ['UnetPlusPlus', 'unetplusplus', [25_477_568, 25_477_568, 25_477_568, 3_264_352], 145, [[175.91, 16.35], [176.48, 16.91], [205.15, 45.58], [29.71, 5.84]]],
  ['FPN', 'fpn', [2_607_872, 2_607_872, 2_607_872, 1_803_008], 129, [[23.85, 16.35], [24.41, 16.91], [53.08, 45.58], [12.0, 5.84]]],
  ['DeepLabV3Plus', 'deeplabv3plus', [3_169_296, 3_169_296, 3_169_296, 1_067_344], 257, [[27.99, 24.83], [28.0, 24.83], [72.8, 69.63], [13.67, 11.96]]],
];

/** The 16 models of the paper (4 decoders × 4 encoders) with smp v0.3.3's parameter counts and MACs. */
export const PAPER_MODELS: readonly PaperModel[] = DECODERS.flatMap(([smpDecoder, decoder, decoderParams, seg, macs]) =>
  ENCODERS.map(([smpEncoder, encoder, encoderParams], i) => {
    const efficientnet = encoder.startsWith('efficientnet');
    const cls = (efficientnet ? 448 : 2048) * 3 + 3;
    return {
      id: `${smpDecoder}__${smpEncoder}`,
      decoder,
      encoder,
      smpDecoder,
      smpEncoder,
      params: {
        total: encoderParams + decoderParams[i] + seg + cls,
        encoder: encoderParams,
        decoder: decoderParams[i],
        segmentationHead: seg,
        classificationHead: cls,
        dead: efficientnet ? 806_400 : 0,
      },
      gmacs: macs[i][0],
      encoderGmacs: macs[i][1],
    };
  }),
);

/** The paper model with this id (`FPN__resnet50`) or busi names (`fpn`, `resnet50`). */
export function findPaperModel(decoderOrId: string, encoder?: string): PaperModel | undefined {
  if (encoder == null) return PAPER_MODELS.find((m) => m.id.toLowerCase() === decoderOrId.trim().toLowerCase());
  const d = decoderRegistryName(decoderOrId);
  const e = encoderRegistryName(encoder);
  return PAPER_MODELS.find((m) => m.decoder === d && m.encoder === e);
}

/** Arguments of {@link createModel}: those of `MultiTaskModel`, with names in busi or smp spelling. */
export type CreateModelArgs = MultiTaskModelArgs;

/**
 * Builds a multi-task model from registry or smp names, e.g.
 * `createModel({ encoder: 'efficientnet-b4', decoder: 'deeplabv3plus', classes: 3 })` or
 * `createModel({ encoder: 'tu-wide_resnet50_2', decoder: 'UnetPlusPlus' })`. Importing this module
 * registers every busi encoder and decoder; unknown names fail with the list of registered ones.
 * @example
 * ```ts
 * import { createModel } from '@busi/node';
 * const model = createModel({ encoder: 'efficientnet-b4', decoder: 'deeplabv3plus', classes: 3 });
 * model.countParams().total; // 18,617,564, as smp's DeepLabV3Plus(efficientnet-b4)
 * ```
 */
export function createModel(args: CreateModelArgs): MultiTaskModel {
  if (args == null || args.encoder == null || args.decoder == null) {
    throw new Error("createModel: `encoder` and `decoder` are required, e.g. { encoder: 'resnet50', decoder: 'unet' }");
  }
  return new MultiTaskModel({ ...args, encoder: resolveEncoder(args.encoder), decoder: resolveDecoder(args.decoder) });
}

/** Builds one of the 16 paper models by id (`FPN__resnet50`), with extra options (classes, inChannels, ...). */
export function createPaperModel(id: string, args: Omit<CreateModelArgs, 'encoder' | 'decoder'> = {}): MultiTaskModel {
  const m = findPaperModel(id);
  if (!m) throw new Error(`createPaperModel: unknown id '${id}'. Known: ${PAPER_MODELS.map((p) => p.id).join(', ')}`);
  return createModel({ ...args, encoder: m.encoder, decoder: m.decoder });
}

function resolveEncoder(spec: CreateModelArgs['encoder']): CreateModelArgs['encoder'] {
  if (typeof spec === 'object' && typeof (spec as Encoder).apply === 'function') return spec;
  const { name, ...rest } = typeof spec === 'string' ? { name: spec } : (spec as { name: string });
  const resolved = encoders.has(name) ? name : encoderRegistryName(name);
  if (!encoders.has(resolved)) {
    throw new Error(`createModel: unknown encoder '${name}'. Registered encoders: ${listEncoders().join(', ')}`);
  }
  return { ...rest, name: resolved };
}

function resolveDecoder(spec: CreateModelArgs['decoder']): CreateModelArgs['decoder'] {
  if (typeof spec === 'object' && typeof (spec as Decoder).apply === 'function') return spec;
  const { name, ...rest } = typeof spec === 'string' ? { name: spec } : (spec as { name: string });
  const resolved = decoders.has(name) ? name : decoderRegistryName(name);
  if (!decoders.has(resolved)) {
    throw new Error(`createModel: unknown decoder '${name}'. Registered decoders: ${listDecoders().join(', ')}`);
  }
  return { ...rest, name: resolved };
}
