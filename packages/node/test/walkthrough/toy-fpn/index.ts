import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, Resize, registerDecoder, type Decoder, type DecoderArgs, type DecoderConfig } from '@busi/core';
import { conv2dReLU } from '@busi/decoders';

/** Arguments of {@link ToyFpnDecoder}: the encoder's channel list plus its own options. */
export interface ToyFpnArgs extends DecoderArgs {
  /** Channels of the laterals and of the decoded map. Default 16. */
  channels?: number;
}

/**
 * 1×1 laterals on the stride-4…32 features, summed top-down after nearest up-sampling, then one
 * Conv2dReLU block (the shared decoder block of `@busi/decoders`): a map at stride 4.
 */
export class ToyFpnDecoder implements Decoder {
  readonly name = 'toy-fpn';
  readonly outChannels: number;
  readonly outputStride = 4; // the segmentation head up-samples ×4 after its conv
  readonly headKernelSize = 1;
  private readonly encoderChannels: readonly number[];
  private readonly prefix: string;

  constructor(args: ToyFpnArgs) {
    if (!args.encoderChannels || args.encoderChannels.length < 3) throw new Error('toy-fpn: needs an encoder of depth >= 2 (a stride-4 feature)');
    const channels = args.channels ?? 16;
    if (!Number.isInteger(channels) || channels < 1) throw new Error(`toy-fpn: channels must be a positive integer, got ${String(channels)}`);
    this.encoderChannels = [...args.encoderChannels];
    this.outChannels = channels;
    this.prefix = args.prefix ?? 'decoder';
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
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

  getConfig(): DecoderConfig {
    return { name: this.name, args: { encoderChannels: [...this.encoderChannels], channels: this.outChannels, prefix: this.prefix } };
  }
}

registerDecoder('toy-fpn', (args) => new ToyFpnDecoder(args), {
  encoderOutputStride: 32,
  aliases: ['toyfpn'],
  defaults: { channels: 16 },
  description: 'walkthrough decoder: top-down 1×1 laterals and one Conv2dReLU',
});
