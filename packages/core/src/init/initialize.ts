import { collectTorchParams, writeTorchValue, type StateDictTarget } from '../io/state-dict';
import { torchShape, type TorchParam } from '../layers/torch-params';
import { Rng, fnv1a32, mixSeed } from '../random/rng';
import type { BiasInit, InitSpec, ModelInitSpec, WeightInit } from './init-spec';
import { TORCH_DEFAULT_INIT } from './init-spec';

/** Options of {@link initializeLikeReference}. */
export interface InitializeWeightsOptions {
  /**
   * Seed of the draw. Each weight draws from its own stream, keyed by the seed and its PyTorch name,
   * so the values do not depend on layer order. Default: drawn from `Math.random`.
   */
  seed?: number;
}

/** The part of a model a PyTorch name belongs to, by its first path component. */
function partOf(name: string, spec: ModelInitSpec): InitSpec {
  const head = name.split('.')[0];
  if (head === 'encoder') return spec.encoder;
  if (head === 'decoder') return spec.decoder;
  if (head === 'segmentation_head' || head === 'classification_head') return spec.heads;
  return TORCH_DEFAULT_INIT;
}

/** PyTorch's `_calculate_fan_in_and_fan_out` on a PyTorch-layout shape (`[out, in/groups, ...kernel]`). */
export function torchFans(shape: readonly number[]): {
  /** Inputs feeding one output unit: `in/groups · kh · kw` for a conv, `in` for a linear layer. */
  fanIn: number;
  /** Outputs one input unit feeds: `out · kh · kw` for a conv, `out` for a linear layer. */
  fanOut: number;
} {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape[1] ?? 1) * receptive, fanOut: shape[0] * receptive };
}

// Hot loops use module-level aliases: a global lookup per element is ~10x slower in sandboxed
// contexts (jest's vm), and the largest models draw over 100 M values.
const { sqrt, log, cos, sin, PI } = Math;

type Draw = { uniform: (bound: number) => number; normal: (std: number) => number };

function drawFor(seed: number, name: string): Draw {
  const rng = new Rng(mixSeed(seed, fnv1a32(name)));
  // In (0, 1]: never 0, so log() in Box-Muller stays finite.
  const unit = () => 1 - rng.next();
  let spare = NaN;
  return {
    uniform: (bound) => (2 * unit() - 1) * bound,
    // Box-Muller gives two independent normals per pair of uniforms; the second is kept for the next call.
    normal: (std) => {
      if (spare === spare) {
        const z = spare;
        spare = NaN;
        return std * z;
      }
      const r = sqrt(-2 * log(unit()));
      const t = 2 * PI * unit();
      spare = r * sin(t);
      return std * r * cos(t);
    },
  };
}

function weightValues(init: WeightInit, shape: readonly number[], draw: Draw): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const { fanIn, fanOut } = torchFans(shape);
  const out = new Float32Array(n);
  if (init === 'kaiming-normal-fan-out') {
    const std = sqrt(2 / fanOut);
    for (let i = 0; i < n; i++) out[i] = draw.normal(std);
    return out;
  }
  const bound =
    init === 'torch-default'
      ? 1 / sqrt(fanIn)
      : init === 'kaiming-uniform-fan-in'
        ? sqrt(6 / fanIn)
        : sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < n; i++) out[i] = draw.uniform(bound);
  return out;
}

function biasValues(init: BiasInit, n: number, fanIn: number, draw: Draw): Float32Array {
  const out = new Float32Array(n);
  if (init === 'torch-default') {
    const bound = fanIn > 0 ? 1 / sqrt(fanIn) : 0;
    for (let i = 0; i < n; i++) out[i] = draw.uniform(bound);
  }
  return out;
}

/**
 * Starts every weight of a model the way its PyTorch reference does, as PyTorch's
 * `module.apply(init_fn)` would: conv and linear weights by the part's {@link InitSpec}, their
 * biases from the same weight's fan-in, norm scales 1 (or 0 where `zeroScales` says), shifts 0,
 * running mean 0 and running variance 1.
 * @returns the number of weights written.
 */
export function initializeLikeReference(target: StateDictTarget, spec: ModelInitSpec, options: InitializeWeightsOptions = {}): number {
  const seed = options.seed ?? Math.floor(Math.random() * 4294967296);
  const params = collectTorchParams(target);
  const byName = new Map<string, TorchParam>(params.map((p) => [p.name, p]));
  let written = 0;
  for (const p of params) {
    const shape = torchShape(p.variable.shape as number[], p.layout);
    const n = shape.reduce((a, b) => a * b, 1);
    const part = p.init === 'module-default' ? TORCH_DEFAULT_INIT : partOf(p.name, spec);
    const draw = drawFor(seed, p.name);
    let values: Float32Array | null = null;
    if (p.layout === 'conv2d') values = weightValues(part.conv, shape, draw);
    else if (p.layout === 'linear') values = weightValues(part.linear, shape, draw);
    else if (p.name.endsWith('.running_mean')) values = new Float32Array(n);
    else if (p.name.endsWith('.running_var')) values = new Float32Array(n).fill(1);
    else if (p.name.endsWith('.bias')) {
      const owner = byName.get(`${p.name.slice(0, -'.bias'.length)}.weight`);
      if (owner && owner.layout !== 'identity') {
        const ownerShape = torchShape(owner.variable.shape as number[], owner.layout);
        values = biasValues(part.bias, n, torchFans(ownerShape).fanIn, draw);
      } else values = new Float32Array(n); // a norm layer's shift
    } else if (p.name.endsWith('.weight')) values = new Float32Array(n).fill(part.zeroScales?.test(p.name) ? 0 : 1);
    if (!values) continue; // a buffer no reference initialiser touches (e.g. a step counter)
    writeTorchValue(p, values, shape);
    written++;
  }
  return written;
}
