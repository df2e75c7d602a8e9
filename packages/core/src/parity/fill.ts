/**
 * The "parity fill" of fixtures/parity/README.md: weights generated from each PyTorch state-dict
 * name, so the PyTorch reference and this library hold identical weights without shipping any.
 */
import { Rng, fnv1a32 } from '../random/rng';

// Hot loops use local aliases: a global lookup per element is ~10x slower in sandboxed contexts
// (jest's vm), where every global access goes through interceptors.
const sin = Math.sin;

/** Which row of the README's fill table a state-dict entry falls under. */
export type ParityFillRule = 'running_var' | 'running_mean' | 'norm_weight' | 'bias' | 'kernel' | 'other';

/** The fill rule for an entry, from its PyTorch name and shape (first matching row wins). */
export function parityFillRule(name: string, torchShape: readonly number[]): ParityFillRule {
  if (name.endsWith('.running_var')) return 'running_var';
  if (name.endsWith('.running_mean')) return 'running_mean';
  if (name.endsWith('.weight') && torchShape.length === 1) return 'norm_weight';
  if (name.endsWith('.bias')) return 'bias';
  if (torchShape.length >= 2) return 'kernel';
  return 'other';
}

/**
 * The parity-fill values of one state-dict entry, in C order over its PyTorch shape.
 * @param name full PyTorch state-dict name.
 * @param torchShape PyTorch shape (conv `[out, in/groups, kh, kw]`, linear `[out, in]`).
 * @param salt the fixture's salt (prefixed to the name before hashing).
 * @param rule override the table row (the gradient cotangents always use 'other').
 */
export function parityFill(name: string, torchShape: readonly number[], salt = '', rule?: ParityFillRule): Float32Array {
  const numel = torchShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(fnv1a32(salt + name));
  const out = new Float32Array(numel);
  const r = rule ?? parityFillRule(name, torchShape);
  // Each value is formed in float64 exactly as the reference does, then rounded once to float32.
  const scale = r === 'kernel' ? Math.sqrt(6 / torchShape.slice(1).reduce((a, b) => a * b, 1)) : 0;
  for (let i = 0; i < numel; i++) {
    const u = rng.nextUint32() / 4294967296;
    const v = 2 * u - 1;
    switch (r) {
      case 'running_var':
        out[i] = 0.5 + u;
        break;
      case 'norm_weight':
        out[i] = 1 + 0.1 * v;
        break;
      case 'kernel':
        out[i] = v * scale;
        break;
      default:
        out[i] = 0.1 * v;
    }
  }
  return out;
}

/** A plain tensor: shape and C-order float32 values. */
export interface ParityArray {
  /** The shape, in PyTorch's layout (NCHW for images and masks). */
  shape: number[];
  /** The values in C order (last axis fastest). */
  data: Float32Array;
}

/** The three inputs of a parity check, all in PyTorch's NCHW layout. */
export interface ParityInputs {
  /** `[N, C, H, W]` image. */
  input: ParityArray;
  /** Cotangent of the mask output, `[N, maskChannels, H, W]`. */
  gradMask: ParityArray;
  /** Cotangent of the class logits, `[N, classes]`. */
  gradLabel: ParityArray;
}

/**
 * The parity input and output cotangents (inputs.json's formulas) for any NCHW shape.
 * @param shapeNCHW input shape `[N, C, H, W]` (the fixtures use [2, 3, 96, 128]).
 * @param salt the fixture's salt.
 * @param opts mask channels (default 1) and classes (default 3) of the cotangents.
 */
export function parityInputs(
  shapeNCHW: readonly number[],
  salt = '',
  opts: { maskChannels?: number; classes?: number } = {},
): ParityInputs {
  if (shapeNCHW.length !== 4 || !shapeNCHW.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`parityInputs: expected a positive NCHW shape [N, C, H, W], got [${shapeNCHW.join(', ')}]`);
  }
  const [n, c, h, w] = shapeNCHW;
  const input = new Float32Array(n * c * h * w);
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) input[i++] = sin(0.05 * y * (ch + 1) + 0.07 * x + 1.3 * b);
      }
    }
  }
  const maskShape = [n, opts.maskChannels ?? 1, h, w];
  const labelShape = [n, opts.classes ?? 3];
  const cotangent = (name: string, shape: number[]): ParityArray => {
    const data = parityFill(name, shape, salt, 'other');
    for (let k = 0; k < data.length; k++) data[k] = 10 * data[k];
    return { shape, data };
  };
  return {
    input: { shape: [...shapeNCHW], data: input },
    gradMask: cotangent('grad.mask', maskShape),
    gradLabel: cotangent('grad.label', labelShape),
  };
}
