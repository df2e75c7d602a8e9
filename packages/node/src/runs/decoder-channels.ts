import { decoders, encoders } from '@busi/core';
import { UsageError } from '../cli/args';
// `--decoder-channels` (and a sweep's `train.decoderChannels`): one comma-separated text for
// decoders whose `decoderChannels` is a width per decoder block (Unet: a list) and for those where it
// is one width (DeepLabV3, PAN: a number). The registry entry's `defaults` say which; nothing here
// names a decoder.

/** A decoder's `decoderChannels` value: one width, or one per decoder block (deepest first). */
export type DecoderChannels = number | number[];

/** The registry default of a decoder's `decoderChannels`, or undefined when the decoder has no such option. */
function defaultDecoderChannels(decoder: string): DecoderChannels | undefined {
  const value = decoders.info(decoder).defaults?.decoderChannels;
  return typeof value === 'number' || Array.isArray(value) ? (value as DecoderChannels) : undefined;
}

/** A decoder's width options (`…Channels`) with their registry defaults, e.g. 'pyramidChannels 256, segmentationChannels 128'. */
function widthOptions(decoder: string): string {
  const defaults = decoders.info(decoder).defaults ?? {};
  return Object.entries(defaults)
    .filter(([key, value]) => /Channels$/.test(key) && (typeof value === 'number' || Array.isArray(value)))
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');
}

/**
 * Turns the text of `--decoder-channels` into the decoder's `decoderChannels`, shaped as its
 * registry default: a number where the default is a number, a list (one width per decoder block,
 * as many as the default has on this encoder) where it is a list. Throws a usage error naming the
 * option and what the decoder takes otherwise, so a run never starts with widths the decoder would
 * refuse or misread.
 */
export function parseDecoderChannels(text: string, decoder: string, encoder: string, cmd: string): DecoderChannels {
  const widths = text.split(',').map(Number);
  if (text.trim() === '' || widths.some((c) => !(Number.isInteger(c) && c > 0))) {
    throw new UsageError(`busi ${cmd}: --decoder-channels must be positive integers separated by commas, e.g. 64,32,16,16,8; got '${text}'`);
  }
  const fallback = defaultDecoderChannels(decoder);
  if (fallback === undefined) {
    const own = widthOptions(decoder);
    throw new UsageError(`busi ${cmd}: --decoder-channels does not apply to ${decoder}: it has no decoderChannels option${own ? ` (its widths: ${own})` : ''}; leave --decoder-channels out`);
  }
  if (typeof fallback === 'number') {
    if (widths.length !== 1) throw new UsageError(`busi ${cmd}: --decoder-channels for ${decoder} is one width (default ${fallback}); got ${widths.length} (${text})`);
    return widths[0];
  }
  // A per-block list has one entry per encoder stage the decoder reads (the default cut to that depth).
  const depth = decoders.info(decoder).encoderDepth ?? encoders.info(encoder).outChannels.length - 1;
  const blocks = Math.min(fallback.length, depth);
  if (widths.length !== blocks) {
    throw new UsageError(
      `busi ${cmd}: --decoder-channels for ${decoder} on ${encoder} is ${blocks} widths, one per decoder block, deepest first (default ${fallback.slice(0, blocks).join(',')}); got ${widths.length} (${text})`,
    );
  }
  return widths;
}

/** Each registered decoder's default `decoderChannels` (or that it has none), for help texts: 'unet 256,128,64,32,16; …; fpn none'. */
export function describeDecoderChannels(): string {
  return decoders
    .catalogue()
    .map((e) => `${e.name} ${defaultDecoderChannels(e.name)?.toString() ?? 'none'}`)
    .join('; ');
}
