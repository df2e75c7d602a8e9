import type { StateDict, StateDictEntry } from './state-dict';

/**
 * Adapts a pretrained first-conv kernel (PyTorch layout `[out, in, kh, kw]`) to another number of
 * input channels, as smp's `patch_first_conv` does when `in_channels != 3`:
 * - 1 channel: the sum of the kernels over the input channels (a gray image seen as R = G = B
 *   gives the same response);
 * - N channels (N ≠ 1): the kernels repeated cyclically over the N channels and scaled by
 *   `in / N`, keeping the response to an input replicated over the channels.
 * @param torchWeight the pretrained kernel.
 * @param newInChannels the input channels of the model being loaded.
 * @returns a new entry; the same entry when the channel count already matches.
 */
export function adaptFirstConvWeights(torchWeight: StateDictEntry, newInChannels: number): StateDictEntry {
  const { shape, data } = torchWeight;
  if (shape.length !== 4) {
    throw new Error(`adaptFirstConvWeights: expected a conv kernel [out, in, kh, kw], got shape [${shape.join(', ')}]`);
  }
  if (!Number.isInteger(newInChannels) || newInChannels < 1) {
    throw new Error(`adaptFirstConvWeights: newInChannels must be a positive integer, got ${newInChannels}`);
  }
  const [out, inC, kh, kw] = shape;
  if (data.length !== out * inC * kh * kw) {
    throw new Error(`adaptFirstConvWeights: shape [${shape.join(', ')}] does not match ${data.length} values`);
  }
  if (newInChannels === inC) return torchWeight;
  const k = kh * kw;
  const result = new Float32Array(out * newInChannels * k);
  if (newInChannels === 1) {
    for (let o = 0; o < out; o++) {
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let c = 0; c < inC; c++) s += data[(o * inC + c) * k + j];
        result[o * k + j] = s;
      }
    }
  } else {
    const scale = inC / newInChannels;
    for (let o = 0; o < out; o++) {
      for (let c = 0; c < newInChannels; c++) {
        const src = (o * inC + (c % inC)) * k;
        const dst = (o * newInChannels + c) * k;
        for (let j = 0; j < k; j++) result[dst + j] = data[src + j] * scale;
      }
    }
  }
  return { shape: [out, newInChannels, kh, kw], data: result };
}

/** Options of {@link adaptStateDictInChannels}. */
export interface AdaptInChannelsOptions {
  /** Name of the first conv's kernel; default the first 4-D entry with `pretrainedInChannels` input channels (smp's rule). */
  name?: string;
  /** Input channels the state dict was trained with. Default 3. */
  pretrainedInChannels?: number;
}

/**
 * A copy of a pretrained state dict whose first conv is adapted to `newInChannels` with
 * {@link adaptFirstConvWeights}, ready for `loadStateDict` into a model built with that many
 * input channels (e.g. ImageNet RGB weights into a grayscale ultrasound encoder).
 */
export function adaptStateDictInChannels(sd: StateDict, newInChannels: number, options: AdaptInChannelsOptions = {}): StateDict {
  const pretrained = options.pretrainedInChannels ?? 3;
  let name = options.name;
  if (name == null) {
    for (const [n, e] of sd) {
      if (n.endsWith('.weight') && e.shape.length === 4 && e.shape[1] === pretrained) {
        name = n;
        break;
      }
    }
  }
  if (name == null || !sd.has(name)) {
    throw new Error(
      `adaptStateDictInChannels: ${name == null ? `no conv kernel with ${pretrained} input channels` : `no entry '${name}'`} in the state dict`,
    );
  }
  const out: StateDict = new Map(sd);
  out.set(name, adaptFirstConvWeights(sd.get(name)!, newInChannels));
  return out;
}
