import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, EncoderBase, registerEncoder, type EncoderArgs } from '@busi/core';

/** Arguments of {@link ToyVggEncoder}: the common encoder arguments plus its own. */
export interface ToyVggArgs extends EncoderArgs {
  /** Channels of the five stages. Default [8, 12, 16, 24, 32]. */
  widths?: readonly number[];
}

const WIDTHS = [8, 12, 16, 24, 32];

/**
 * Five stages of conv 3×3 (stride 2) → BatchNorm → ReLU, the PyTorch twin being
 * `stages = nn.ModuleList(nn.Sequential(nn.Conv2d(c, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()) ...)`.
 */
export class ToyVggEncoder extends EncoderBase {
  readonly widths: readonly number[];

  constructor(args: ToyVggArgs = {}) {
    const widths = [...(args.widths ?? WIDTHS)];
    super('toy-vgg', args, widths); // checks inChannels, depth, outputStride, prefix; sets outChannels etc.
    this.widths = widths;
  }

  apply(input: SymbolicTensor): SymbolicTensor[] {
    const features = [input];
    let x = input;
    for (let level = 1; level <= this.depth; level++) {
      // Output stride 16: the last stage keeps its resolution and dilates instead (smp's rule).
      const dilation = this.dilates(level) ? 2 : 1;
      const name = `${this.prefix}.stages.${level - 1}`;
      x = new Conv2d({ name: `${name}.0`, filters: this.widths[level - 1], kernelSize: 3, strides: 3 - dilation, dilation, padding: dilation, useBias: false }).apply(x) as SymbolicTensor;
      x = new BatchNorm2d({ name: `${name}.1` }).apply(x) as SymbolicTensor;
      x = layers.reLU({ name: `${name}.2` }).apply(x) as SymbolicTensor;
      features.push(x);
    }
    return features;
  }

  protected extraConfig(): Record<string, unknown> {
    return { widths: [...this.widths] };
  }
}

// The registry entry: the catalogue facts every tool reads (names, channels, parameter count, defaults).
registerEncoder('toy-vgg', (args) => new ToyVggEncoder(args), {
  family: 'toy-vgg',
  outChannels: [3, ...WIDTHS],
  params: 13_360,
  aliases: ['toy_vgg'],
  defaults: { widths: WIDTHS },
  description: 'walkthrough encoder: five conv-BN-ReLU stages',
});
