/**
 * The output widths of a decoder with one block per encoder stage (deepest first): `given`, or
 * `defaults` cut to the encoder's depth, checked against that depth.
 */
export function perStageChannels(what: string, encoderChannels: readonly number[], given: readonly number[] | undefined, defaults: readonly number[]): number[] {
  const blocks = encoderChannels.length - 1;
  const out = [...(given ?? defaults.slice(0, blocks))];
  if (out.length !== blocks) {
    throw new Error(`${what}: the encoder has depth ${blocks}, so decoderChannels needs ${blocks} entries, got ${out.length} ([${out.join(', ')}])`);
  }
  if (out.some((c) => !Number.isInteger(c) || c <= 0)) throw new Error(`${what}: decoderChannels must be positive integers, got [${out.join(', ')}]`);
  return out;
}
