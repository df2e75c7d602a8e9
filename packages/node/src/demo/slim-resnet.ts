import { initializers, layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  BatchNorm2d,
  Conv2d,
  EncoderBase,
  TORCHVISION_RESNET_INIT,
  encoders,
  registerEncoder,
  type EncoderArgs,
  type InitSpec,
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
 * busi encoder, so any decoder fits; at `outputStride: 16` the last stage keeps the resolution and
 * dilates its 3×3 convs by 2 instead, as smp's `make_dilated`). Built from @busi/core layers only,
 * so a saved model loads without this package. A busi-only encoder: it has no smp counterpart.
 */
export class SlimResNetEncoder extends EncoderBase {
  /** Channels of the stem and of stages 1..4 (5 numbers). */
  readonly widths: readonly number[];
  /** Basic residual blocks per stage. */
  readonly blocks: number;
  /** A ResNet in miniature: torchvision's ResNet initialisation (He, fan-out). */
  readonly initialization: InitSpec = TORCHVISION_RESNET_INIT;

  constructor(args: SlimResNetArgs = {}) {
    const widths = args.widths ?? DEFAULT_WIDTHS;
    if (widths.length !== 5 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
      throw new Error(`slim-resnet: widths must be 5 positive integers, got [${widths.join(', ')}]`);
    }
    super('slim-resnet', args, widths);
    this.widths = widths;
    this.blocks = args.blocks ?? 1;
    if (!Number.isInteger(this.blocks) || this.blocks < 1) throw new Error(`slim-resnet: blocks must be a positive integer, got ${this.blocks}`);
  }

  /**
   * Builds the stem and the four stages on `input`; returns the input and the five feature maps (strides 2 to
   * 32, or 2 to 16 with the last stage dilated at `outputStride: 16`).
   */
  apply(input: SymbolicTensor): SymbolicTensor[] {
    const p = this.prefix;
    const features = [input];
    let x = conv(`${p}.conv1`, this.widths[0], 3, 2).apply(input) as SymbolicTensor;
    x = new BatchNorm2d({ name: `${p}.bn1` }).apply(x) as SymbolicTensor;
    x = layers.reLU({ name: `${p}.relu` }).apply(x) as SymbolicTensor;
    features.push(x);
    for (let stage = 1; stage < this.depth; stage++) {
      const dilation = this.dilationOf(stage + 1);
      for (let b = 0; b < this.blocks; b++) {
        // Block 0 of every stage is strided, so it has a projection shortcut at either output stride.
        x = this.block(`${p}.layer${stage}.${b}`, x, this.widths[stage], b === 0 && dilation === 1 ? 2 : 1, dilation, b === 0);
      }
      features.push(x);
    }
    return features;
  }

  private block(path: string, x: SymbolicTensor, width: number, stride: number, dilation: number, project: boolean): SymbolicTensor {
    let y = conv(`${path}.conv1`, width, 3, stride, dilation).apply(x) as SymbolicTensor;
    y = new BatchNorm2d({ name: `${path}.bn1` }).apply(y) as SymbolicTensor;
    y = layers.reLU({ name: `${path}.relu1` }).apply(y) as SymbolicTensor;
    y = conv(`${path}.conv2`, width, 3, 1, dilation).apply(y) as SymbolicTensor;
    y = new BatchNorm2d({ name: `${path}.bn2` }).apply(y) as SymbolicTensor;
    let shortcut = x;
    if (project || (x.shape[3] as number) !== width) {
      shortcut = conv(`${path}.downsample.0`, width, 1, stride).apply(x) as SymbolicTensor;
      shortcut = new BatchNorm2d({ name: `${path}.downsample.1` }).apply(shortcut) as SymbolicTensor;
    }
    y = layers.add({ name: `${path}.add` }).apply([y, shortcut]) as SymbolicTensor;
    return layers.reLU({ name: `${path}.relu2` }).apply(y) as SymbolicTensor;
  }

  protected extraConfig(): Record<string, unknown> {
    return { widths: [...this.widths], blocks: this.blocks };
  }
}

function conv(name: string, filters: number, kernelSize: number, strides: number, dilation = 1): Conv2d {
  return new Conv2d({
    name,
    filters,
    kernelSize,
    strides,
    dilation,
    padding: Math.floor(kernelSize / 2) * dilation,
    useBias: false,
    kernelInitializer: initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform' }),
  });
}

/** Registers 'slim-resnet' (idempotent). */
export function registerSlimResNet(): void {
  if (encoders.has('slim-resnet')) return;
  registerEncoder('slim-resnet', (args) => new SlimResNetEncoder(args as SlimResNetArgs), {
    outChannels: [3, ...DEFAULT_WIDTHS],
    family: 'slim-resnet',
    defaults: { widths: DEFAULT_WIDTHS, blocks: 1 },
    description: 'narrow demo ResNet (busi only, no smp counterpart)',
  });
}
registerSlimResNet();
