import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Resize } from '@busi/core';
import { attention, unusedAttention, type AttentionType } from './attention';
import { conv2dReLU } from './conv';

/** Options of {@link unetBlock}. */
export interface UnetBlockOptions {
  /** BatchNorm in both convs (else biased convs). Default true. */
  useBatchnorm?: boolean;
  /** Attention after the skip concatenation and after the convs. Default null. */
  attentionType?: AttentionType;
}

/**
 * smp's Unet `DecoderBlock` `<name>`: nearest ×2 up-sampling, concatenation with the skip maps (in
 * the given order) followed by `attention1`, then two 3×3 {@link conv2dReLU} (`conv1`, `conv2`)
 * and `attention2`. Without skips smp skips `attention1` but still builds it: its weights are held
 * unused. Unet, Unet++ and MAnet (its last block) share this block.
 */
export function unetBlock(
  x: SymbolicTensor,
  skips: SymbolicTensor[],
  name: string,
  outChannels: number,
  opts: UnetBlockOptions = {},
): SymbolicTensor {
  const type = opts.attentionType ?? null;
  const useBatchnorm = opts.useBatchnorm ?? true;
  let y = new Resize({ name: `${name}.up`, scale: 2, mode: 'nearest' }).apply(x) as SymbolicTensor;
  if (skips.length > 0) {
    y = layers.concatenate({ name: `${name}.cat`, axis: -1 }).apply([y, ...skips]) as SymbolicTensor;
    y = attention(y, `${name}.attention1`, type);
  } else {
    y = unusedAttention(y, `${name}.attention1`, type, y.shape[3]!);
  }
  y = conv2dReLU(y, `${name}.conv1`, outChannels, { useBatchnorm });
  y = conv2dReLU(y, `${name}.conv2`, outChannels, { useBatchnorm });
  return attention(y, `${name}.attention2`, type);
}
