import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, Resize, type Decoder, type DecoderArgs, type DecoderConfig } from '@busi/core';

/** smp's Unet default decoder widths, deepest block first. */
export const UNET_DEFAULT_CHANNELS = [256, 128, 64, 32, 16] as const;

/** Options of {@link UnetDecoder} (smp's `decoder_*` arguments). */
export interface UnetDecoderArgs extends DecoderArgs {
  /**
   * Output channels of each block, deepest first; one block per encoder stage. Default
   * (256, 128, 64, 32, 16), cut to the encoder's depth when it is shallower than 5.
   */
  decoderChannels?: readonly number[];
  /** Conv → BatchNorm → ReLU (true) or conv with bias → ReLU (false). Default true. */
  useBatchnorm?: boolean;
  /** Attention after the skip concatenation and after each block: null (none) or 'scse'. Default null. */
  attentionType?: null | 'scse';
  /** Accepted for a uniform option set across decoders; the Unet has no dropout. */
  dropout?: number;
}

/**
 * smp's Unet decoder: per block, nearest ×2 up-sampling, concatenation with the encoder skip of that
 * resolution (stride 16, 8, 4, 2; the last block has none), optional scSE attention, then two
 * Conv3×3 → BN → ReLU. The stride-1 input feature is never used.
 */
export class UnetDecoder implements Decoder {
  readonly name = 'unet';
  readonly outChannels: number;
  readonly outputStride = 1;
  readonly headKernelSize = 3;
  readonly encoderChannels: readonly number[];
  readonly decoderChannels: readonly number[];
  readonly useBatchnorm: boolean;
  readonly attentionType: null | 'scse';
  readonly prefix: string;
  readonly dropout: number;

  constructor(args: UnetDecoderArgs) {
    if (!args || !Array.isArray(args.encoderChannels) || args.encoderChannels.length < 2) {
      throw new Error('unet: encoderChannels must list the input and at least one encoder feature, e.g. [3, 64, 256, 512, 1024, 2048]');
    }
    this.encoderChannels = [...args.encoderChannels];
    const blocks = this.encoderChannels.length - 1;
    this.decoderChannels = [...(args.decoderChannels ?? UNET_DEFAULT_CHANNELS.slice(0, blocks))];
    if (this.decoderChannels.length !== blocks) {
      throw new Error(
        `unet: the encoder has depth ${blocks}, so decoderChannels needs ${blocks} entries, got ${this.decoderChannels.length} ` +
          `([${this.decoderChannels.join(', ')}])`,
      );
    }
    if (this.decoderChannels.some((c) => !Number.isInteger(c) || c <= 0)) {
      throw new Error(`unet: decoderChannels must be positive integers, got [${this.decoderChannels.join(', ')}]`);
    }
    this.useBatchnorm = args.useBatchnorm ?? true;
    this.attentionType = args.attentionType ?? null;
    if (this.attentionType !== null && this.attentionType !== 'scse') {
      throw new Error(`unet: attentionType must be null or 'scse', got '${String(this.attentionType)}'`);
    }
    this.prefix = args.prefix ?? 'decoder';
    this.dropout = args.dropout ?? 0;
    this.outChannels = this.decoderChannels[blocks - 1];
  }

  apply(features: SymbolicTensor[]): SymbolicTensor {
    if (features.length !== this.encoderChannels.length) {
      throw new Error(`unet: built for ${this.encoderChannels.length} encoder features, got ${features.length}`);
    }
    // Deepest first; the stride-1 input is dropped.
    const maps = features.slice(1).reverse();
    const skips = maps.slice(1);
    let x = maps[0];
    this.decoderChannels.forEach((out, i) => {
      const path = `${this.prefix}.blocks.${i}`;
      x = new Resize({ name: `${path}.up`, scale: 2, mode: 'nearest' }).apply(x) as SymbolicTensor;
      if (i < skips.length) {
        x = layers.concatenate({ name: `${path}.cat`, axis: -1 }).apply([x, skips[i]]) as SymbolicTensor;
      }
      x = this.attention(`${path}.attention1`, x);
      x = this.convBnRelu(`${path}.conv1`, x, out);
      x = this.convBnRelu(`${path}.conv2`, x, out);
      x = this.attention(`${path}.attention2`, x);
    });
    return x;
  }

  private convBnRelu(path: string, x: SymbolicTensor, filters: number): SymbolicTensor {
    let y = new Conv2d({ name: `${path}.0`, filters, kernelSize: 3, padding: 1, useBias: !this.useBatchnorm }).apply(
      x,
    ) as SymbolicTensor;
    if (this.useBatchnorm) y = new BatchNorm2d({ name: `${path}.1` }).apply(y) as SymbolicTensor;
    return layers.reLU({ name: `${path}.2` }).apply(y) as SymbolicTensor;
  }

  private attention(path: string, x: SymbolicTensor): SymbolicTensor {
    if (this.attentionType !== 'scse') return x;
    return scse(`${path}.attention`, x);
  }

  getConfig(): DecoderConfig {
    return {
      name: this.name,
      args: {
        encoderChannels: [...this.encoderChannels],
        decoderChannels: [...this.decoderChannels],
        useBatchnorm: this.useBatchnorm,
        attentionType: this.attentionType,
        prefix: this.prefix,
        dropout: this.dropout,
      },
    };
  }
}

/**
 * Concurrent spatial and channel squeeze-and-excitation (Roy et al. 2018), smp's SCSEModule with
 * reduction 16: `x·cSE(x) + x·sSE(x)`.
 */
export function scse(path: string, x: SymbolicTensor, reduction = 16): SymbolicTensor {
  const channels = x.shape[x.shape.length - 1];
  if (channels == null) throw new Error(`${path}: scSE needs a known channel count`);
  const squeezed = Math.floor(channels / reduction);
  if (squeezed < 1) {
    throw new Error(`${path}: scSE needs at least ${reduction} channels (reduction ${reduction}), got ${channels}`);
  }
  let c = layers.globalAveragePooling2d({ name: `${path}.cSE.0` }).apply(x) as SymbolicTensor;
  c = layers.reshape({ name: `${path}.cSE.0.keepdims`, targetShape: [1, 1, channels] }).apply(c) as SymbolicTensor;
  c = new Conv2d({ name: `${path}.cSE.1`, filters: squeezed, kernelSize: 1 }).apply(c) as SymbolicTensor;
  c = layers.reLU({ name: `${path}.cSE.2` }).apply(c) as SymbolicTensor;
  c = new Conv2d({ name: `${path}.cSE.3`, filters: channels, kernelSize: 1 }).apply(c) as SymbolicTensor;
  c = layers.activation({ name: `${path}.cSE.4`, activation: 'sigmoid' }).apply(c) as SymbolicTensor;
  let s = new Conv2d({ name: `${path}.sSE.0`, filters: 1, kernelSize: 1 }).apply(x) as SymbolicTensor;
  s = layers.activation({ name: `${path}.sSE.1`, activation: 'sigmoid' }).apply(s) as SymbolicTensor;
  const xc = layers.multiply({ name: `${path}.mul_c` }).apply([x, c]) as SymbolicTensor;
  const xs = layers.multiply({ name: `${path}.mul_s` }).apply([x, s]) as SymbolicTensor;
  return layers.add({ name: `${path}.add` }).apply([xc, xs]) as SymbolicTensor;
}
