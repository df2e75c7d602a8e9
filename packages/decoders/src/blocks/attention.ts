import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, UnusedWeights, heldConv2d } from '@busi/core';

/** Attention inside a Unet/Unet++ decoder block (smp's `decoder_attention_type`): none, or concurrent spatial and channel squeeze-excitation. */
export type AttentionType = 'scse' | null;

/** The attention types smp v0.3.3 knows. */
export const ATTENTION_TYPES: readonly AttentionType[] = [null, 'scse'];

/** Throws unless `type` is one of {@link ATTENTION_TYPES}; `what` names the decoder in the message. */
export function checkAttentionType(what: string, type: unknown): asserts type is AttentionType {
  if (type !== null && type !== 'scse') throw new Error(`${what}: attentionType must be null or 'scse', got '${String(type)}'`);
}

function channelsOf(x: SymbolicTensor, name: string): number {
  const c = x.shape[x.shape.length - 1];
  if (c == null) throw new Error(`${name}: attention needs a known channel count`);
  return c;
}

/**
 * A squeeze-and-excitation gate as smp writes it, an `nn.Sequential` of AdaptiveAvgPool2d(1) (`.0`),
 * 1×1 conv to `reduced` channels (`.1`), ReLU (`.2`), 1×1 conv back (`.3`) and sigmoid (`.4`):
 * returns the `[N, 1, 1, C]` gate, not the gated map (MAnet sums two gates before applying them).
 */
export function squeezeExcitationGate(x: SymbolicTensor, name: string, reduced: number): SymbolicTensor {
  const c = channelsOf(x, name);
  let g = layers.globalAveragePooling2d({ name: `${name}.0` }).apply(x) as SymbolicTensor;
  g = layers.reshape({ name: `${name}.0.keepdims`, targetShape: [1, 1, c] }).apply(g) as SymbolicTensor;
  g = new Conv2d({ name: `${name}.1`, filters: reduced, kernelSize: 1 }).apply(g) as SymbolicTensor;
  g = layers.reLU({ name: `${name}.2` }).apply(g) as SymbolicTensor;
  g = new Conv2d({ name: `${name}.3`, filters: c, kernelSize: 1 }).apply(g) as SymbolicTensor;
  return layers.activation({ name: `${name}.4`, activation: 'sigmoid' }).apply(g) as SymbolicTensor;
}

/**
 * Concurrent spatial and channel squeeze-and-excitation (Roy et al. 2018), smp's `SCSEModule`:
 * `x·cSE(x) + x·sSE(x)` with `<name>.cSE` a {@link squeezeExcitationGate} to `floor(C / reduction)`
 * channels and `<name>.sSE.0` a 1×1 conv to one channel.
 */
export function scse(x: SymbolicTensor, name: string, reduction = 16): SymbolicTensor {
  const c = channelsOf(x, name);
  const squeezed = Math.floor(c / reduction);
  if (squeezed < 1) throw new Error(`${name}: scSE needs at least ${reduction} channels (reduction ${reduction}), got ${c}`);
  const channel = squeezeExcitationGate(x, `${name}.cSE`, squeezed);
  let spatial = new Conv2d({ name: `${name}.sSE.0`, filters: 1, kernelSize: 1 }).apply(x) as SymbolicTensor;
  spatial = layers.activation({ name: `${name}.sSE.1`, activation: 'sigmoid' }).apply(spatial) as SymbolicTensor;
  const xc = layers.multiply({ name: `${name}.cSE.mul` }).apply([x, channel]) as SymbolicTensor;
  const xs = layers.multiply({ name: `${name}.sSE.mul` }).apply([x, spatial]) as SymbolicTensor;
  return layers.add({ name: `${name}.add` }).apply([xc, xs]) as SymbolicTensor;
}

/**
 * smp's `Attention` module `<name>`: {@link scse} under `<name>.attention`, or `x` itself when
 * `type` is null (smp's Identity holds no weights).
 */
export function attention(x: SymbolicTensor, name: string, type: AttentionType): SymbolicTensor {
  checkAttentionType(name, type);
  return type === 'scse' ? scse(x, `${name}.attention`) : x;
}

/**
 * The weights of an scSE attention `<name>` that smp builds but never runs (the first attention of
 * a Unet block without skip), held so that parameter counts and state dicts match; `x` passes
 * through unchanged. Nothing when `type` is null.
 */
export function unusedAttention(x: SymbolicTensor, name: string, type: AttentionType, channels: number): SymbolicTensor {
  checkAttentionType(name, type);
  if (type === null) return x;
  const r = Math.floor(channels / 16);
  // One holder per PyTorch conv module, so that each weight is `<module>.weight` / `<module>.bias`.
  const convs: Array<[string, number, number]> = [
    ['cSE.1', channels, r],
    ['cSE.3', r, channels],
    ['sSE.0', channels, 1],
  ];
  let y = x;
  for (const [module, cin, cout] of convs) {
    y = new UnusedWeights({
      name: `${name}.attention.${module}`,
      held: heldConv2d('', { kernelSize: 1, inChannels: cin, filters: cout, bias: true }),
    }).apply(y) as SymbolicTensor;
  }
  return y;
}
