import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, DecoderBase, Resize, registerDecoder, type DecoderArgs } from '@busi/core';
import { conv2dReLU } from '@busi/decoders';

/** The options of {@link ToyFpnDecoder}, one doc line each. */
export interface ToyFpnOptions {
  /** Channels of the laterals and of the decoded map. */
  channels: number;
}

/** Every option with its default: plain data, also the registry entry's `defaults`. */
export const TOY_FPN_DEFAULTS: Readonly<ToyFpnOptions> = { channels: 16 };

/** Arguments of {@link ToyFpnDecoder}: the encoder's channel list plus any of its options. */
export interface ToyFpnArgs extends DecoderArgs, Partial<ToyFpnOptions> {}

/**
 * 1×1 laterals on the stride-4…32 features, summed top-down after nearest up-sampling, then one
 * Conv2dReLU block (the shared decoder block of `@busi/decoders`): a map at stride 4.
 */
export class ToyFpnDecoder extends DecoderBase<ToyFpnOptions> {
  readonly outChannels: number;
  readonly outputStride = 4; // the segmentation head up-samples ×4 after its conv
  readonly headKernelSize = 1;

  constructor(args: ToyFpnArgs) {
    // Checks encoderChannels (and the depth asked for) and prefix, and resolves the options.
    super('toy-fpn', args, TOY_FPN_DEFAULTS, { minDepth: 2, why: 'a stride-4 feature' });
    this.checkPositiveIntegers('channels');
    this.outChannels = this.options.channels;
  }

  // Called by apply() once the feature count is checked against encoderChannels.
  protected build(features: SymbolicTensor[]): SymbolicTensor {
    const maps = features.slice(2); // strides 4, 8, 16, 32: smp's decoders skip the input and stride 2
    const lateral = (i: number) => new Conv2d({ name: `${this.prefix}.lateral.${i}`, filters: this.outChannels, kernelSize: 1 }).apply(maps[i]) as SymbolicTensor;
    let x = lateral(maps.length - 1);
    for (let i = maps.length - 2; i >= 0; i--) {
      // To the skip's size, not ×2: under output stride 16 the two deepest maps share one size.
      const up = new Resize({ name: `${this.prefix}.up.${i}`, mode: 'nearest' }).apply([x, maps[i]]) as SymbolicTensor;
      x = layers.add({ name: `${this.prefix}.add.${i}` }).apply([up, lateral(i)]) as SymbolicTensor;
    }
    return conv2dReLU(x, `${this.prefix}.fuse`, this.outChannels);
  }
}

// The registry entry: the catalogue facts every tool reads (names, encoder stride, defaults).
registerDecoder('toy-fpn', (args) => new ToyFpnDecoder(args), {
  encoderOutputStride: 32,
  aliases: ['toyfpn'],
  defaults: TOY_FPN_DEFAULTS,
  description: 'walkthrough decoder: top-down 1×1 laterals and one Conv2dReLU',
});
