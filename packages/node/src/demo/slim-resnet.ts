import { initializers, layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  BatchNorm2d,
  Conv2d,
  encoders,
  featureNamesFor,
  registerEncoder,
  type Encoder,
  type EncoderArgs,
  type EncoderConfig,
} from '@busi/core';

/** Arguments of {@link SlimResNetEncoder}. */
export interface SlimResNetArgs extends EncoderArgs {
  /** Channels of the stem and of stages 1..4. Default [16, 16, 32, 48, 64]. */
  widths?: readonly number[];
  /** Basic residual blocks per stage. Default 1. */
  blocks?: number;
}

const DEFAULT_WIDTHS = [16, 16, 32, 48, 64] as const;

/**
 * A narrow ResNet-style encoder for demos and quick experiments on CPU: a 3×3 stride-2 stem, then
 * four stages of basic residual blocks, each halving the resolution (strides 2..32 like every
 * busi encoder, so any decoder fits). Built from @busi/core layers only, so a saved model loads
 * without this package.
 */
export class SlimResNetEncoder implements Encoder {
  readonly name = 'slim-resnet';
  readonly inChannels: number;
  readonly depth: number;
  readonly prefix: string;
  readonly widths: readonly number[];
  readonly blocks: number;
  readonly outChannels: readonly number[];
  readonly reductions: readonly number[];
  readonly featureNames: readonly string[];
  readonly outputStride: number;

  constructor(args: SlimResNetArgs = {}) {
    this.inChannels = args.inChannels ?? 3;
    this.depth = args.depth ?? 5;
    this.prefix = args.prefix ?? 'encoder';
    this.widths = args.widths ?? DEFAULT_WIDTHS;
    this.blocks = args.blocks ?? 1;
    if (args.outputStride === 16) throw new Error('slim-resnet: outputStride 16 (dilation) is not supported; use a resnet encoder');
    if (this.widths.length !== 5 || this.widths.some((w) => !Number.isInteger(w) || w < 1)) {
      throw new Error(`slim-resnet: widths must be 5 positive integers, got [${this.widths.join(', ')}]`);
    }
    if (!Number.isInteger(this.depth) || this.depth < 1 || this.depth > 5) throw new Error(`slim-resnet: depth must be in 1..5, got ${this.depth}`);
    this.outChannels = [this.inChannels, ...this.widths].slice(0, this.depth + 1);
    this.reductions = [1, 2, 4, 8, 16, 32].slice(0, this.depth + 1);
    this.featureNames = featureNamesFor(this.reductions);
    this.outputStride = this.reductions[this.depth];
  }

  apply(input: SymbolicTensor): SymbolicTensor[] {
    const p = this.prefix;
    const features = [input];
    let x = conv(`${p}.conv1`, this.widths[0], 3, 2).apply(input) as SymbolicTensor;
    x = new BatchNorm2d({ name: `${p}.bn1` }).apply(x) as SymbolicTensor;
    x = layers.reLU({ name: `${p}.relu` }).apply(x) as SymbolicTensor;
    features.push(x);
    for (let stage = 1; stage < this.depth; stage++) {
      for (let b = 0; b < this.blocks; b++) x = this.block(`${p}.layer${stage}.${b}`, x, this.widths[stage], b === 0 ? 2 : 1);
      features.push(x);
    }
    return features;
  }

  private block(path: string, x: SymbolicTensor, width: number, stride: number): SymbolicTensor {
    let y = conv(`${path}.conv1`, width, 3, stride).apply(x) as SymbolicTensor;
    y = new BatchNorm2d({ name: `${path}.bn1` }).apply(y) as SymbolicTensor;
    y = layers.reLU({ name: `${path}.relu1` }).apply(y) as SymbolicTensor;
    y = conv(`${path}.conv2`, width, 3, 1).apply(y) as SymbolicTensor;
    y = new BatchNorm2d({ name: `${path}.bn2` }).apply(y) as SymbolicTensor;
    let shortcut = x;
    if (stride !== 1 || (x.shape[3] as number) !== width) {
      shortcut = conv(`${path}.downsample.0`, width, 1, stride).apply(x) as SymbolicTensor;
      shortcut = new BatchNorm2d({ name: `${path}.downsample.1` }).apply(shortcut) as SymbolicTensor;
    }
    y = layers.add({ name: `${path}.add` }).apply([y, shortcut]) as SymbolicTensor;
    return layers.reLU({ name: `${path}.relu2` }).apply(y) as SymbolicTensor;
  }

  getConfig(): EncoderConfig {
    return {
      name: this.name,
      args: { inChannels: this.inChannels, depth: this.depth, outputStride: 32, prefix: this.prefix, widths: [...this.widths], blocks: this.blocks },
    };
  }
}

function conv(name: string, filters: number, kernelSize: number, strides: number): Conv2d {
  return new Conv2d({
    name,
    filters,
    kernelSize,
    strides,
    padding: Math.floor(kernelSize / 2),
    useBias: false,
    kernelInitializer: initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform' }),
  });
}

/** Registers 'slim-resnet' (idempotent). */
export function registerSlimResNet(): void {
  if (encoders.list().includes('slim-resnet')) return;
  registerEncoder('slim-resnet', (args) => new SlimResNetEncoder(args as SlimResNetArgs), {
    outChannels: [3, ...DEFAULT_WIDTHS],
    family: 'slim-resnet',
  });
}
registerSlimResNet();
