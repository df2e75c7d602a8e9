/**
 * Initialisation parity: every weight of a freshly built busi model starts with the distribution the
 * PyTorch reference (smp v0.3.3 and, for UPerNet, smp 0.4.0's decoder; torchvision, timm,
 * EfficientNet-PyTorch) gives it. The reference side
 * is fixtures/init-stats (per state-dict entry: numel, mean, std, min, max of freshly built smp models,
 * averaged over torch seeds 0-2; ../shared/reference-tools/generate_init_stats.py).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decoders, listDecoders, readTorchValue, type MultiTaskModel } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { createModel } from '../../src/models/factory';

interface EntryStats {
  numel: number;
  shape: number[];
  mean: number;
  std: number;
  min: number;
  max: number;
}

const DIR = path.resolve(__dirname, '../../../../fixtures/init-stats');
/** The paper's other decoders, checked on one encoder of each family's init (torchvision ResNet, EfficientNet). */
const PAPER_DECODERS = ['UnetPlusPlus', 'FPN', 'DeepLabV3Plus'];
/**
 * Every Unet file (one per encoder: all 17 reference encoders); the paper's other decoders on
 * resnet50 and efficientnet-b4; every other decoder on efficientnet-b4, and PSPNet on resnet50 too
 * (its depth-3 torchvision encoder holds the stages it does not run). A decoder's and the heads'
 * initialisation does not depend on the encoder, and the remaining combinations would multiply the
 * cost (MAnet on resnet50 alone builds 124 M decoder weights); their files are in the folder all the same.
 */
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => {
    const m = /^([^_]+)__(.+)\.json$/.exec(f);
    if (!m) return false;
    const [, decoder, encoder] = m;
    if (decoder === 'Unet') return true;
    if (PAPER_DECODERS.includes(decoder) || decoder === 'PSPNet') return encoder === 'resnet50' || encoder === 'efficientnet-b4';
    return encoder === 'efficientnet-b4';
  })
  .sort();

test('every registered decoder has init statistics of its reference that this test runs', () => {
  const covered = new Set(FILES.map((f) => f.split('__')[0]));
  const missing = listDecoders().filter((d) => !covered.has(decoders.info(d).reference?.name ?? d));
  expect(missing).toEqual([]);
});

/** Tensors this large have a sample std within ~2 % of the population's (std error ≈ 1/√(2n) ≈ 2.2 % at n = 1,000). */
const LARGE = 1000;
/** The bound on the std ratio of large tensors. */
const STD_TOLERANCE = 0.05;

const { abs, max, sqrt } = Math;

function stats(data: Float32Array): EntryStats {
  let sum = 0;
  let min = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    sum += v;
    if (v < min) min = v;
    if (v > hi) hi = v;
  }
  const mean = sum / data.length;
  let sq = 0;
  for (let i = 0; i < data.length; i++) sq += (data[i] - mean) * (data[i] - mean);
  // torch.std is the unbiased estimate.
  const std = data.length > 1 ? sqrt(sq / (data.length - 1)) : 0;
  return { numel: data.length, shape: [], mean, std, min, max: hi };
}

/** max|x| / std: √3 ≈ 1.73 for a uniform draw; well above 3 for a normal one of ≥ 1,000 values. */
function peakRatio(s: EntryStats): number {
  return max(abs(s.min), abs(s.max)) / s.std;
}

function modelFor(file: string, seed: number): MultiTaskModel {
  const [decoder, encoder] = path.basename(file, '.json').split('__');
  return createModel({ encoder, decoder, classes: 3, seed });
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe.each(FILES)('%s', (file) => {
  it('starts every weight as the reference does', () => {
    const ref: Record<string, EntryStats> = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')).params;
    const before = tf.memory().numTensors;
    const model = modelFor(file, 0);
    const problems: string[] = [];
    try {
      const ours = new Map(model.torchParams().map((p) => [p.name, p]));
      for (const name of Object.keys(ref)) if (!ours.has(name)) problems.push(`${name}: missing in busi`);
      for (const name of ours.keys()) if (!(name in ref)) problems.push(`${name}: not in the reference`);
      for (const [name, r] of Object.entries(ref)) {
        const p = ours.get(name);
        if (!p) continue;
        const s = stats(readTorchValue(p).data);
        if (s.numel !== r.numel) problems.push(`${name}: ${s.numel} values, reference ${r.numel}`);
        if (r.numel === 1) {
          // One value has std 0 in every seed, drawn or not: compare zero against non-zero.
          if ((r.mean === 0) !== (s.mean === 0)) problems.push(`${name}: reference ${r.mean}, busi ${s.mean}`);
          continue;
        }
        if (r.std === 0) {
          // A constant (BN scale 1 or timm's zero_init_last 0, shift 0, running stats, zero biases).
          if (s.std !== 0 || Math.abs(s.mean - r.mean) > 1e-6) problems.push(`${name}: reference constant ${r.mean}, busi mean ${s.mean} std ${s.std}`);
          continue;
        }
        if (s.std === 0) {
          problems.push(`${name}: constant ${s.mean} in busi, reference std ${r.std}`);
          continue;
        }
        const ratio = s.std / r.std;
        if (r.numel >= LARGE) {
          if (Math.abs(ratio - 1) > STD_TOLERANCE) problems.push(`${name}: std ratio busi/reference ${ratio.toFixed(3)}`);
          const uniformRef = peakRatio(r) < 2;
          const uniformOurs = peakRatio(s) < 2;
          if (uniformRef !== uniformOurs) {
            problems.push(`${name}: reference ${uniformRef ? 'uniform' : 'normal'} (peak/std ${peakRatio(r).toFixed(2)}), busi ${peakRatio(s).toFixed(2)}`);
          }
        } else if (r.numel >= 100 && Math.abs(ratio - 1) > 0.35) {
          // Few values: the sample std itself scatters by 1/√(2n) (7 % at n = 100); 35 % is five of those.
          problems.push(`${name}: std ratio busi/reference ${ratio.toFixed(3)} (${r.numel} values)`);
        }
      }
    } finally {
      model.dispose();
    }
    expect(problems).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('the same seed gives the same weights, another seed others', () => {
  const file = 'Unet__resnet18.json';
  const values = (seed: number) => {
    const m = modelFor(file, seed);
    try {
      return m.torchParams().filter((p) => p.layout !== 'identity').slice(0, 4).map((p) => readTorchValue(p).data);
    } finally {
      m.dispose();
    }
  };
  const a = values(7);
  const b = values(7);
  const c = values(8);
  a.forEach((x, i) => expect(Buffer.from(x.buffer).equals(Buffer.from(b[i].buffer))).toBe(true));
  expect(Buffer.from(a[0].buffer).equals(Buffer.from(c[0].buffer))).toBe(false);
});
