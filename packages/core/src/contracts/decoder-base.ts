import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Decoder, DecoderArgs, DecoderConfig } from './decoder';

/** What a decoder needs of its encoder, checked by {@link DecoderBase} before anything is built. */
export interface DecoderRequirements {
  /** Fewest encoder stages (features after the input) the decoder reads: 4 for FPN (strides 4..32). Default 1. */
  minDepth?: number;
  /** Why it needs them, for the error message, e.g. 'features at strides 4..32'. */
  why?: string;
}

/**
 * What every decoder shares (the decoder side of smp's base classes): the encoder channel list
 * checked once with errors naming the decoder, the layer prefix, the decoder's own options resolved
 * against its defaults, the feature-count check of `apply`, and `getConfig()`.
 *
 * A decoder declares its options once, as an interface with a doc line per field (`XOptions`);
 * its arguments are `interface XArgs extends DecoderArgs, Partial<XOptions> {}`. Its constructor
 * passes its registry name, its arguments and its defaults: the plain-data object its
 * registry entry also carries as `defaults`, so the catalogue, help texts and the factory agree.
 * Every key of the defaults is an option: `options` holds them resolved, and `getConfig()` returns
 * them beside `encoderChannels` and `prefix`, so a decoder keeps no config bookkeeping of its own.
 * The subclass checks its own options (`checkPositiveIntegers`, `checkRates`, `checkChoice`, `fail`),
 * sets `outChannels` / `outputStride` / `headKernelSize`, and builds its layers in `build`.
 */
export abstract class DecoderBase<TOptions extends object> implements Decoder {
  /** Registry name. */
  readonly name: string;
  /** The encoder's channel list, input first: all the decoder knows of its encoder. */
  readonly encoderChannels: readonly number[];
  /** Prefix of every layer name (the PyTorch module path of the decoder). */
  readonly prefix: string;
  /** Channels of the returned map. */
  abstract readonly outChannels: number;
  /** Stride of the returned map relative to the input: the segmentation head up-samples by it. */
  abstract readonly outputStride: number;
  /** Kernel size of the segmentation head's conv on this decoder (as smp's head for it). */
  abstract readonly headKernelSize: number;
  private readonly resolved: TOptions;

  /**
   * @param name registry name (kept in the config and named by every error).
   * @param args the common decoder arguments and any of the decoder's options.
   * @param defaults every option of the decoder with its default (plain data; the registry entry's `defaults`).
   * @param requirements what the decoder needs of its encoder.
   */
  protected constructor(name: string, args: DecoderArgs & Partial<TOptions>, defaults: Readonly<TOptions>, requirements: DecoderRequirements = {}) {
    this.name = name;
    if (args == null || typeof args !== 'object') {
      throw new Error(`${name}: expected an arguments object with encoderChannels, got ${String(args)}`);
    }
    const channels: unknown = args.encoderChannels;
    if (!Array.isArray(channels) || channels.length < 2 || channels.some((c) => !Number.isInteger(c) || c <= 0)) {
      throw new Error(
        `${name}: encoderChannels must list the input and at least one encoder feature as positive integers, e.g. [3, 64, 256, 512, 1024, 2048]; got ${JSON.stringify(channels)}`,
      );
    }
    const minDepth = requirements.minDepth ?? 1;
    if (channels.length - 1 < minDepth) {
      throw new Error(
        `${name}: needs an encoder of depth >= ${minDepth}${requirements.why ? ` (${requirements.why})` : ''}, got encoderChannels [${channels.join(', ')}]`,
      );
    }
    this.encoderChannels = [...(channels as number[])];
    this.prefix = args.prefix ?? 'decoder';
    if (typeof this.prefix !== 'string' || this.prefix === '') throw new Error(`${name}: prefix must be a non-empty string, got ${JSON.stringify(this.prefix)}`);
    const resolved: Partial<TOptions> = {};
    for (const key of Object.keys(defaults) as (keyof TOptions)[]) {
      const given = args[key];
      resolved[key] = copy(given === undefined ? defaults[key] : (given as TOptions[keyof TOptions]));
    }
    this.resolved = resolved as TOptions;
  }

  /** The decoder's own options, defaults filled in (what `getConfig()` returns beside `encoderChannels` and `prefix`). */
  get options(): Readonly<TOptions> {
    return this.resolved;
  }

  /** Encoder stages the decoder is built for (features after the input). */
  get encoderDepth(): number {
    return this.encoderChannels.length - 1;
  }

  /** Builds the layers on the encoder features (input first) and returns the decoded map. */
  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (!Array.isArray(features) || features.length !== this.encoderChannels.length) {
      this.fail(`built for ${this.encoderChannels.length} encoder features (input first), got ${Array.isArray(features) ? features.length : String(features)}`);
    }
    return this.build(features);
  }

  /** The decoder's layers, on exactly as many features as `encoderChannels` lists. */
  protected abstract build(features: SymbolicTensor[]): SymbolicTensor;

  /** Every constructor argument, so `createDecoder(config.name, config.args)` rebuilds the decoder. */
  getConfig(): DecoderConfig {
    const args: Record<string, unknown> = { encoderChannels: [...this.encoderChannels] };
    for (const [key, value] of Object.entries(this.resolved)) args[key] = copy(value);
    args.prefix = this.prefix;
    return { name: this.name, args };
  }

  /**
   * Replaces an option's resolved value, for the few defaults that depend on the encoder (a
   * per-stage width list cut to the encoder's depth). Constructor use only.
   */
  protected setOption<K extends keyof TOptions>(key: K, value: TOptions[K]): void {
    this.resolved[key] = value;
  }

  /** Throws `<name>: <message>`. */
  protected fail(message: string): never {
    throw new Error(`${this.name}: ${message}`);
  }

  /** Throws unless every named option is a positive integer. */
  protected checkPositiveIntegers(...keys: (keyof TOptions & string)[]): void {
    for (const key of keys) {
      const v = this.resolved[key];
      if (!Number.isInteger(v) || (v as number) < 1) this.fail(`${key} must be a positive integer, got ${String(v)}`);
    }
  }

  /** Throws unless every named option is a dropout probability in [0, 1). */
  protected checkRates(...keys: (keyof TOptions & string)[]): void {
    for (const key of keys) {
      const v = this.resolved[key];
      if (!(typeof v === 'number' && v >= 0 && v < 1)) this.fail(`${key} must be in [0, 1), got ${String(v)}`);
    }
  }

  /** Throws unless the named option is one of `choices`. */
  protected checkChoice(key: keyof TOptions & string, choices: readonly unknown[]): void {
    const v = this.resolved[key];
    if (!choices.includes(v)) this.fail(`${key} must be one of ${choices.map((c) => (typeof c === 'string' ? `'${c}'` : String(c))).join(', ')}, got ${typeof v === 'string' ? `'${v}'` : String(v)}`);
  }
}

// Options are plain data; arrays are copied so neither the caller's arguments nor a returned
// config can change a built decoder.
function copy<T>(value: T): T {
  return (Array.isArray(value) ? [...value] : value) as T;
}
