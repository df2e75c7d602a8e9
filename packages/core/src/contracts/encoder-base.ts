import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { featureNamesFor, type Encoder, type EncoderArgs, type EncoderConfig } from './encoder';

/** Strides of the input and of the five feature levels at output stride 32. */
const STRIDES = [1, 2, 4, 8, 16, 32] as const;

/**
 * What every encoder shares (as smp's `EncoderMixin`): the common arguments checked once, the
 * feature bookkeeping (channels, strides, names for the requested depth and output stride) and
 * the common part of the config. A subclass passes the channels of its five feature levels for
 * 3-channel input, builds its layers in `apply`, and adds its own options in `extraConfig`.
 *
 * The output-stride contract: at `outputStride: 16` the deepest level keeps stride 16 (its
 * strided convs lose their stride and dilate by 2 instead, smp's `make_dilated`), so it is
 * 16 × 16 smaller than the input instead of 32 × 32; at `outputStride: 8` levels 4 and 5 both stay
 * at stride 8, dilated by 2 and 4. {@link EncoderBase.dilationOf} gives each level's rate.
 */
export abstract class EncoderBase implements Encoder {
  readonly name: string;
  /** Input channels (`outChannels[0]`). */
  readonly inChannels: number;
  /** Number of downsampling stages built (1..5); `apply` returns `depth + 1` features. */
  readonly depth: number;
  /** Prefix of every layer name (the encoder's PyTorch module path). */
  readonly prefix: string;
  readonly outChannels: readonly number[];
  readonly reductions: readonly number[];
  readonly featureNames: readonly string[];
  readonly outputStride: number;
  /** The output stride asked for (the deepest level's stride when `depth` is 5). */
  protected readonly requestedStride: 8 | 16 | 32;

  /**
   * @param name registry name (kept in the config).
   * @param args the common encoder arguments; defaults 3 channels, depth 5, stride 32, prefix 'encoder'.
   * @param levelChannels channels of feature levels 1..5 (strides 2..32).
   */
  protected constructor(name: string, args: EncoderArgs, levelChannels: readonly number[]) {
    this.name = name;
    this.inChannels = args.inChannels ?? 3;
    this.depth = args.depth ?? 5;
    this.requestedStride = args.outputStride ?? 32;
    this.prefix = args.prefix ?? 'encoder';
    if (!Number.isInteger(this.inChannels) || this.inChannels < 1) {
      throw new Error(`${name}: inChannels must be a positive integer, got ${String(this.inChannels)}`);
    }
    if (!Number.isInteger(this.depth) || this.depth < 1 || this.depth > 5) {
      throw new Error(`${name}: depth must be an integer in 1..5, got ${String(this.depth)}`);
    }
    if (this.requestedStride !== 8 && this.requestedStride !== 16 && this.requestedStride !== 32) {
      throw new Error(`${name}: outputStride must be 8, 16 or 32, got ${String(this.requestedStride)}`);
    }
    if (typeof this.prefix !== 'string' || this.prefix === '') throw new Error(`${name}: prefix must be a non-empty string`);
    if (levelChannels.length !== 5) throw new Error(`${name}: expected the channels of 5 feature levels, got ${levelChannels.length}`);
    const reductions = STRIDES.map((s) => Math.min(s, this.requestedStride));
    this.outChannels = [this.inChannels, ...levelChannels].slice(0, this.depth + 1);
    this.reductions = reductions.slice(0, this.depth + 1);
    this.featureNames = featureNamesFor(this.reductions);
    this.outputStride = this.reductions[this.reductions.length - 1];
  }

  /** Whether feature level `level` (1..5) runs dilated instead of strided: level 5 at output stride 16, levels 4 and 5 at 8. */
  protected dilates(level: number): boolean {
    return this.dilationOf(level) > 1;
  }

  /** Dilation rate of feature level `level` (1..5): 1, or 2 and 4 for the levels past the output stride (smp's `make_dilated`). */
  protected dilationOf(level: number): number {
    const stride = STRIDES[level];
    return stride > this.requestedStride ? stride / this.requestedStride : 1;
  }

  abstract apply(input: SymbolicTensor): SymbolicTensor[];

  /** The encoder-specific arguments of the config (every one, defaults filled in). */
  protected abstract extraConfig(): Record<string, unknown>;

  getConfig(): EncoderConfig {
    return {
      name: this.name,
      args: { inChannels: this.inChannels, depth: this.depth, outputStride: this.requestedStride, prefix: this.prefix, ...this.extraConfig() },
    };
  }
}
