import type { Decoder, DecoderArgs } from '../contracts/decoder';
import type { Encoder, EncoderArgs } from '../contracts/encoder';
import { Registry } from './registry';

/** Facts about a registered encoder that are known before building it. */
export interface EncoderInfo {
  /** Channels of each feature, input first, for 3 input channels. */
  outChannels: readonly number[];
  /** Family name ('resnet', 'efficientnet', ...). */
  family: string;
  /** Parameter count of the encoder as registered (3 input channels, depth 5). */
  params?: number;
}

/** Facts about a registered decoder that are known before building it. */
export interface DecoderInfo {
  /** Output stride this decoder needs from its encoder (16 for DeepLabV3+); default 32. */
  encoderOutputStride?: 16 | 32;
}

export type EncoderFactory = (args: EncoderArgs & Record<string, unknown>) => Encoder;
export type DecoderFactory = (args: DecoderArgs & Record<string, unknown>) => Decoder;

/** The global encoder registry. */
export const encoders = new Registry<EncoderArgs & Record<string, unknown>, Encoder, EncoderInfo>('encoder');
/** The global decoder registry. */
export const decoders = new Registry<DecoderArgs & Record<string, unknown>, Decoder, DecoderInfo>('decoder');

/**
 * Registers an encoder under `name`.
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
 * Registers a decoder under `name`.
 * @example
 * ```ts
 * import { registerDecoder } from '@busi/core';
 * registerDecoder('my-decoder', (args) => new MyDecoder(args.encoderChannels)); // built from the channel list alone
 * ```
 */
export function registerDecoder(name: string, factory: DecoderFactory, info: DecoderInfo = {}): void {
  decoders.register(name, factory, info);
}

/** Builds a registered encoder. */
export function createEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): Encoder {
  return encoders.create(name, args);
}

/** Builds a registered decoder from an encoder's channel list. */
export function createDecoder(name: string, args: DecoderArgs & Record<string, unknown>): Decoder {
  return decoders.create(name, args);
}

/** Names of the registered encoders. */
export function listEncoders(): string[] {
  return encoders.list();
}

/** Names of the registered decoders. */
export function listDecoders(): string[] {
  return decoders.list();
}
