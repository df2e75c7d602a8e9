import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, Dropout, Resize, UnusedWeights } from '@busi/core';

/** Attention applied inside a Unet/Unet++ decoder block: none, or smp's spatial-and-channel squeeze-excitation. */
export type AttentionType = 'scse' | null;

/** Conv (no bias when normalised) → BatchNorm → ReLU, smp's `Conv2dReLU`: layers `<name>.0`, `.1`, `.2`. */
export function convBnRelu(
  x: SymbolicTensor,
  name: string,
  filters: number,
  opts: { kernelSize?: number; padding?: number; useBatchnorm?: boolean } = {},
): SymbolicTensor {
  const useBn = opts.useBatchnorm ?? true;
  let y = new Conv2d({
    name: `${name}.0`,
    filters,
    kernelSize: opts.kernelSize ?? 3,
    padding: opts.padding ?? 1,
    useBias: !useBn,
  }).apply(x) as SymbolicTensor;
  if (useBn) y = new BatchNorm2d({ name: `${name}.1` }).apply(y) as SymbolicTensor;
  return layers.reLU({ name: `${name}.2` }).apply(y) as SymbolicTensor;
}

/**
 * smp's SCSE attention (`x·cSE(x) + x·sSE(x)`, channel reduction 16) under `<name>.attention`,
 * or `x` itself when `type` is null (smp's Identity holds no weights).
 */
export function attention(x: SymbolicTensor, name: string, type: AttentionType): SymbolicTensor {
  if (type == null) return x;
  if (type !== 'scse') throw new Error(`attention: unknown type '${String(type)}' (expected 'scse' or null)`);
  const c = x.shape[3];
  if (c == null) throw new Error(`attention ${name}: the channel dimension must be known`);
  const p = `${name}.attention`;
  let ch = layers.globalAveragePooling2d({ name: `${p}.cSE.0` }).apply(x) as SymbolicTensor;
  ch = layers.reshape({ name: `${p}.cSE.0.keep`, targetShape: [1, 1, c] }).apply(ch) as SymbolicTensor;
  ch = new Conv2d({ name: `${p}.cSE.1`, filters: Math.floor(c / 16), kernelSize: 1 }).apply(ch) as SymbolicTensor;
  ch = layers.reLU({ name: `${p}.cSE.2` }).apply(ch) as SymbolicTensor;
  ch = new Conv2d({ name: `${p}.cSE.3`, filters: c, kernelSize: 1 }).apply(ch) as SymbolicTensor;
  ch = layers.activation({ name: `${p}.cSE.4`, activation: 'sigmoid' }).apply(ch) as SymbolicTensor;
  let sp = new Conv2d({ name: `${p}.sSE.0`, filters: 1, kernelSize: 1 }).apply(x) as SymbolicTensor;
  sp = layers.activation({ name: `${p}.sSE.1`, activation: 'sigmoid' }).apply(sp) as SymbolicTensor;
  const a = layers.multiply({ name: `${p}.cSE.mul` }).apply([x, ch]) as SymbolicTensor;
  const b = layers.multiply({ name: `${p}.sSE.mul` }).apply([x, sp]) as SymbolicTensor;
  return layers.add({ name: `${p}.add` }).apply([a, b]) as SymbolicTensor;
}

/**
 * smp's Unet `DecoderBlock`: nearest ×2 up-sampling, concatenation with the skip maps (in the
 * given order), attention, then two Conv3×3-BN-ReLU (`<name>.conv1`, `<name>.conv2`), attention.
 */
export function unetBlock(
  x: SymbolicTensor,
  skips: SymbolicTensor[],
  name: string,
  outChannels: number,
  opts: { useBatchnorm: boolean; attentionType: AttentionType },
): SymbolicTensor {
  let y = new Resize({ name: `${name}.up`, scale: 2, mode: 'nearest' }).apply(x) as SymbolicTensor;
  if (skips.length > 0) {
    y = layers.concatenate({ name: `${name}.cat`, axis: -1 }).apply([y, ...skips]) as SymbolicTensor;
    y = attention(y, `${name}.attention1`, opts.attentionType);
  } else if (opts.attentionType === 'scse') {
    // smp builds attention1 even for a block without skip and never runs it: keep its weights so
    // that parameter counts and state dicts match.
    y = unusedScse(y, `${name}.attention1.attention`);
  }
  y = convBnRelu(y, `${name}.conv1`, outChannels, { useBatchnorm: opts.useBatchnorm });
  y = convBnRelu(y, `${name}.conv2`, outChannels, { useBatchnorm: opts.useBatchnorm });
  return attention(y, `${name}.attention2`, opts.attentionType);
}

function unusedScse(x: SymbolicTensor, name: string): SymbolicTensor {
  const c = x.shape[3]!;
  const r = Math.floor(c / 16);
  // One holder per PyTorch conv module, so each weight is `<module>.weight` / `<module>.bias`.
  const convs: Array<[string, number, number]> = [['cSE.1', c, r], ['cSE.3', r, c], ['sSE.0', c, 1]];
  let y = x;
  for (const [module, cin, cout] of convs) {
    y = new UnusedWeights({
      name: `${name}.${module}`,
      held: [
        { suffix: 'weight', shape: [1, 1, cin, cout], layout: 'conv2d', init: 'kaiming' },
        { suffix: 'bias', shape: [cout] },
      ],
    }).apply(y) as SymbolicTensor;
  }
  return y;
}

/** Channel-wise dropout (PyTorch Dropout2d: whole NHWC channels are zeroed together), or `x` when rate is 0. */
export function dropout2d(x: SymbolicTensor, name: string, rate: number): SymbolicTensor {
  if (rate === 0) return x;
  return new Dropout({ name, rate, noiseShape: [null, 1, 1, null] }).apply(x) as SymbolicTensor;
}

/** Throws unless `rate` is a valid dropout probability in [0, 1). */
export function checkRate(what: string, rate: number): void {
  if (!(typeof rate === 'number' && rate >= 0 && rate < 1)) throw new Error(`${what}: dropout must be in [0, 1), got ${rate}`);
}
