/**
 * The encoder and decoder catalogues. A registry entry is the one home of every fact about a
 * model part: its canonical name, the other names it answers to, what it reproduces in the
 * reference library, its option defaults and the arguments that make it deterministic. The
 * factory, the CLI help, the parity harness, the benchmarks, the docs tables and the tests read
 * these entries; nothing restates them.
 *
 * Entry format (plain data beside the factory, as keras-hub's presets and timm's pretrained cfgs):
 *
 * ```ts
 * registerEncoder('tu-wide_resnet50_2', (args) => createResNetEncoder('tu-wide_resnet50_2', args), {
 *   family: 'resnet',
 *   outChannels: [3, 64, 256, 512, 1024, 2048],
 *   params: 66_834_240,                                       // = smp's encoder count (a test reads the fixtures)
 *   aliases: ['wide_resnet50_2'],                             // timm's own name
 *   reference: { library: 'smp', name: 'tu-wide_resnet50_2', source: 'timm', sourceName: 'wide_resnet50_2' },
 *   deterministicArgs: {},                                    // e.g. { dropConnectRate: 0 } for EfficientNet
 * });
 * registerDecoder('unetplusplus', factory, {
 *   encoderOutputStride: 32,
 *   aliases: ['unet++'],
 *   reference: { library: 'smp', name: 'UnetPlusPlus', params: { resnet50: 25_477_568, ... }, segmentationHeadParams: 145 },
 *   defaults: { decoderChannels: [256, 128, 64, 32, 16] },
 *   deterministicArgs: { dropout: 0 },
 * });
 * ```
 *
 * Canonical names follow smp: an encoder is registered under smp's `encoder_name` (so a fixture
 * `Unet__tu-wide_resnet50_2` names it directly), a decoder under smp's class name lower-cased
 * (lookups ignore case, so `UnetPlusPlus` finds `unetplusplus`).
 */
import type { Decoder, DecoderArgs } from '../contracts/decoder';
import type { Encoder, EncoderArgs } from '../contracts/encoder';
import { Registry, type EntryInfo } from './registry';

/** The reference library's model that a registered encoder reproduces. */
export interface EncoderReference {
  /** The library whose encoder this is: 'smp' (segmentation_models.pytorch v0.3.3). */
  library: string;
  /** Its name there (smp's `encoder_name`), e.g. 'tu-wide_resnet50_2'. */
  name: string;
  /** Where that library takes the network from: 'torchvision', 'timm', 'efficientnet-pytorch', ... */
  source: string;
  /** The network's name in `source`, e.g. timm's 'wide_resnet50_2'. */
  sourceName: string;
}

/** Catalogue facts of a registered encoder, known before building it. */
export interface EncoderInfo extends EntryInfo {
  /** Channels of each feature, input first, for 3 input channels. */
  outChannels: readonly number[];
  /** Family name ('resnet', 'efficientnet', ...): encoders of one family share an implementation. */
  family: string;
  /** Parameter count of the encoder as registered (3 input channels, depth 5); equal to the reference's. */
  params?: number;
  /** Of `params`, those the reference holds but never runs (EfficientNet's `_conv_head` and `_bn1`). Default 0. */
  unusedParams?: number;
  /** What the encoder reproduces; absent for busi-only encoders (demos, custom ones), which have no parity fixture. */
  reference?: EncoderReference;
  /** Defaults of the encoder-specific options (plain data, for help texts and docs; the factory applies them). */
  defaults?: Readonly<Record<string, unknown>>;
  /** Arguments that switch every random element off (drop-connect ...), as the reference's training pass. Default none. */
  deterministicArgs?: Readonly<Record<string, unknown>>;
  /** One line for listings. */
  description?: string;
}

/** The reference library's decoder that a registered decoder reproduces. */
export interface DecoderReference {
  /** The library: 'smp' (segmentation_models.pytorch v0.3.3, or a later release where stated). */
  library: string;
  /** The library's release when it is not v0.3.3 ('0.4.0' for UPerNet, which v0.3.3 lacks). */
  version?: string;
  /** Its class name there, e.g. 'UnetPlusPlus' (also the decoder part of a parity fixture's name). */
  name: string;
  /** The reference's decoder parameter count, keyed by canonical encoder name (3 input channels). */
  params: Readonly<Record<string, number>>;
  /** The reference's segmentation-head parameter count for one mask channel. */
  segmentationHeadParams: number;
}

/** Catalogue facts of a registered decoder, known before building it. */
export interface DecoderInfo extends EntryInfo {
  /** Output stride this decoder needs from its encoder (16 for DeepLabV3+ and PAN, 8 for DeepLabV3); default 32. */
  encoderOutputStride?: 8 | 16 | 32;
  /** Encoder depth (stages) this decoder is built on (3 for PSPNet); default the encoder's own (5). */
  encoderDepth?: number;
  /** Smallest input height and width the decoder accepts (PAN: 128, its pyramid pools the stride-16 map three times). Default the output stride. */
  minInputSize?: number;
  /** Smallest batch a training-mode pass accepts (2 where a BatchNorm normalises one pooled value per channel, as DeepLabV3+'s image pooling). Default 1. */
  minTrainingBatch?: number;
  /** What the decoder reproduces; absent for busi-only decoders. */
  reference?: DecoderReference;
  /** Defaults of the decoder's options (plain data, for help texts and docs; the factory applies them). */
  defaults?: Readonly<Record<string, unknown>>;
  /** Arguments that switch every random element off (dropout ...), as the reference's training pass. Default none. */
  deterministicArgs?: Readonly<Record<string, unknown>>;
  /** One line for listings. */
  description?: string;
}

/** Builds an encoder from its arguments (encoder-specific options extend {@link EncoderArgs}). */
export type EncoderFactory = (args: EncoderArgs & Record<string, unknown>) => Encoder;
/** Builds a decoder from the encoder's channel list and its options. */
export type DecoderFactory = (args: DecoderArgs & Record<string, unknown>) => Decoder;

// The registries live on globalThis under a process-wide symbol: a program that loads @busi/core
// twice (its ESM and its CJS build, e.g. `import` in one file, `require` in a dependency) still has
// one encoder and one decoder registry, whichever copy registers or looks up.
const STORE = Symbol.for('@busi/core registries v1');

function sharedRegistry<T>(key: string, create: () => T): T {
  const holder = globalThis as typeof globalThis & { [STORE]?: Record<string, unknown> };
  const store = (holder[STORE] ??= {});
  return (store[key] ??= create()) as T;
}

/** The global encoder registry (one per process, shared by every copy of @busi/core). */
export const encoders = sharedRegistry('encoders', () => new Registry<EncoderArgs & Record<string, unknown>, Encoder, EncoderInfo>('encoder'));
/** The global decoder registry (one per process, shared by every copy of @busi/core). */
export const decoders = sharedRegistry('decoders', () => new Registry<DecoderArgs & Record<string, unknown>, Decoder, DecoderInfo>('decoder'));

/**
 * Registers an encoder under `name` with its catalogue facts (see the entry format above).
 * @example
 * ```ts
 * import { registerEncoder, MultiTaskModel } from '@busi/core';
 * registerEncoder('my-encoder', (args) => new MyEncoder(args), { outChannels: [3, 32, 64, 128, 256, 512], family: 'custom' });
 * const model = new MultiTaskModel({ encoder: 'my-encoder', decoder: 'unet' });
 * ```
 */
export function registerEncoder(name: string, factory: EncoderFactory, info: EncoderInfo): void {
  encoders.register(name, factory, info);
}

/**
 * Registers a decoder under `name` with its catalogue facts (see the entry format above).
 * @example
 * ```ts
 * import { registerDecoder } from '@busi/core';
 * registerDecoder('my-decoder', (args) => new MyDecoder(args.encoderChannels)); // built from the channel list alone
 * ```
 */
export function registerDecoder(name: string, factory: DecoderFactory, info: DecoderInfo = {}): void {
  decoders.register(name, factory, info);
}

/** Builds a registered encoder (by name or alias). */
export function createEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): Encoder {
  return encoders.create(name, args);
}

/** Builds a registered decoder (by name or alias) from an encoder's channel list. */
export function createDecoder(name: string, args: DecoderArgs & Record<string, unknown>): Decoder {
  return decoders.create(name, args);
}

/** Canonical names of the registered encoders. */
export function listEncoders(): string[] {
  return encoders.list();
}

/** Canonical names of the registered decoders. */
export function listDecoders(): string[] {
  return decoders.list();
}
