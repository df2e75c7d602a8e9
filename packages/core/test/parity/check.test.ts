import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, MultiTaskModel, Resize, type Decoder, type Encoder } from '../../src';
import { createParityFixture, findActiveDropout, runParityCheck } from '../../src/parity/check';
import { exportStateDict } from '../../src/io/state-dict';
import { parityFill } from '../../src/parity/fill';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A 5-stage conv/BN encoder; `bnEps3` changes stage 3 only (an "architecture bug" with identical weights). */
function toyEncoder(bnEps3 = 1e-5, names = 'encoder'): Encoder {
  const ch = [3, 4, 6, 8, 10, 12];
  return {
    name: 'toy', outChannels: ch, reductions: [1, 2, 4, 8, 16, 32], featureNames: [], outputStride: 32,
    apply(x: SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i <= 5; i++) {
        y = new Conv2d({ name: `${names}.c${i}`, filters: ch[i], kernelSize: 3, strides: 2, padding: 1 }).apply(y) as SymbolicTensor;
        y = new BatchNorm2d({ name: `${names}.bn${i}`, eps: i === 3 ? bnEps3 : 1e-5 }).apply(y) as SymbolicTensor;
        y = tfl.layers.reLU().apply(y) as SymbolicTensor;
        out.push(y);
      }
      return out;
    },
    getConfig: () => ({ name: 'toy', args: { inChannels: 3, depth: 5, outputStride: 32, prefix: names } }),
  };
}
function toyDecoder(): Decoder {
  return {
    name: 'toydec', outChannels: 4, outputStride: 1, headKernelSize: 3,
    apply(f: SymbolicTensor[]) {
      const up = new Resize({ name: 'decoder.up', scale: 4 }).apply(f[3]) as SymbolicTensor;
      const y = new Conv2d({ name: 'decoder.c', filters: 4, kernelSize: 1 }).apply(up) as SymbolicTensor;
      return new Resize({ name: 'decoder.up2', scale: 2 }).apply(y) as SymbolicTensor;
    },
    getConfig: () => ({ name: 'toydec', args: {} }),
  };
}
const build = (opts: { eps3?: number; dropout?: number; names?: string } = {}) =>
  new MultiTaskModel({
    encoder: toyEncoder(opts.eps3, opts.names),
    decoder: toyDecoder(),
    classes: 3,
    classificationHead: { dropout: opts.dropout ?? 0 },
  });

const SHAPE = [2, 3, 32, 64];
let fixture: Awaited<ReturnType<typeof createParityFixture>>;

beforeAll(async () => {
  const m = build();
  fixture = await createParityFixture(m, { model: 'Toy__toy', decoder: 'Toy', salt: 'k', inputShape: SHAPE });
  m.dispose();
});

test('the fixture has the reference format', async () => {
  const j = fixture.json;
  expect(j.input_shape).toEqual(SHAPE);
  expect(j.outputs['eval.mask'].shape).toEqual([2, 1, 32, 64]);
  expect(j.encoder_features['encoder.3'].shape).toEqual([2, 8, 4, 8]);
  expect(Object.keys(j.grad_norms).length).toBe(5 * 4 + 2 + 2 + 2);
  expect(j.state_dict.find(([n]) => n === 'encoder.c2.weight')).toEqual(['encoder.c2.weight', [6, 4, 3, 3], 'float32']);
  expect(j.grad_norms['encoder.c1.weight']).toBeGreaterThan(0);
});

test('a fresh model of the same architecture passes with zero error; no leaks; model left parity-filled', async () => {
  const m = build();
  const before = tf.memory().numTensors;
  const report = await runParityCheck(m, fixture);
  expect(tf.memory().numTensors).toBe(before);
  expect(report.pass).toBe(true);
  expect(report.summary).toMatch(/^Toy__toy: PASS {2}max rel err 0\.00e\+0 \(/);
  const names = report.checks.map((c) => c.name);
  for (const n of ['state_dict', 'params.total', 'eval.mask', 'eval.label', 'encoder.1', 'encoder.5', 'train.mask', 'train.label', 'grad:encoder.bn3.bias', 'grad.global']) {
    expect(names).toContain(n);
  }
  // noise entries report |ours| itself (their exact value is 0); everything else is bit-identical
  for (const c of report.checks) if (!/exact arithmetic/.test(c.note ?? '')) expect(c.err).toBe(0);
  // running statistics were restored after the training pass
  const sd = exportStateDict(m);
  expect(sd.get('encoder.bn2.running_var')!.data).toEqual(parityFill('encoder.bn2.running_var', [6], 'k'));
  m.dispose();
});

test('an architecture difference in stage 3 is localised: stages 1-2 pass, 3-5 and outputs fail', async () => {
  const m = build({ eps3: 0.5 });
  const report = await runParityCheck(m, fixture, { gradients: false });
  const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
  expect(report.pass).toBe(false);
  expect(byName['state_dict'].pass).toBe(true);
  expect(byName['encoder.1'].pass).toBe(true);
  expect(byName['encoder.2'].pass).toBe(true);
  for (const k of ['encoder.3', 'encoder.4', 'encoder.5', 'eval.label']) expect(byName[k].pass).toBe(false);
  // Training-mode BN eps matters less but still shows
  expect(byName['train.label'].err).toBeGreaterThan(0);
  expect(report.summary).toMatch(/^Toy__toy: FAIL .*failed: encoder\.3/);
  m.dispose();
});

test('gradient mismatch is caught per parameter and globally', async () => {
  const m = build();
  // Same outputs from other weights: a wrong salt changes everything, so instead scale one reference norm.
  const json = structuredClone(fixture.json);
  json.grad_norms['encoder.c4.weight'] = json.grad_norms['encoder.c4.weight']! * 1.2;
  const report = await runParityCheck(m, { json: JSON.stringify(json), safetensors: fixture.safetensors }, { encoder: false });
  const failed = report.checks.filter((c) => !c.pass).map((c) => c.name);
  expect(failed).toEqual(['grad:encoder.c4.weight']);
  const g = report.checks.find((c) => c.name === 'grad:encoder.c4.weight')!;
  expect(g.err).toBeCloseTo(0.2 / 1.2, 6);
  expect(report.maxGradRelative!.name).toBe('grad:encoder.c4.weight');
  m.dispose();
});

test('salt, names and dropout are enforced', async () => {
  const m = build();
  expect((await runParityCheck(m, fixture, { salt: 'other', train: false })).pass).toBe(false);
  m.dispose();
  const renamed = build({ names: 'enc' });
  const r = await runParityCheck(renamed, fixture, { train: false, encoder: false });
  const sd = r.checks.find((c) => c.name === 'state_dict')!;
  expect(sd.pass).toBe(false);
  expect(sd.err).toBe(60);
  expect(sd.note).toMatch(/missing: encoder\.c1\.weight.*unexpected: enc\.c1\.weight/);
  renamed.dispose();
  const dropped = build({ dropout: 0.5 });
  expect(findActiveDropout(dropped)).toEqual(['classification_head.2 (rate 0.5)']);
  await expect(runParityCheck(dropped, fixture)).rejects.toThrow(/every dropout rate 0.*classification_head\.2/);
  dropped.dispose();
});

test('DeepLabV3+ fixtures get the looser gradient tolerance', async () => {
  const m = build();
  const json = structuredClone(fixture.json);
  json.grad_norms['encoder.c2.weight'] = json.grad_norms['encoder.c2.weight']! * 1.07;
  const run = async (decoder: string) =>
    (await runParityCheck(m, { json: { ...json, decoder }, safetensors: fixture.safetensors }, { encoder: false })).checks.find(
      (c) => c.name === 'grad:encoder.c2.weight',
    )!;
  const strict = (await run('Unet'))!;
  const loose = (await run('DeepLabV3Plus'))!;
  expect([strict.tolerance, strict.pass]).toEqual([5e-2, false]);
  expect([loose.tolerance, loose.pass]).toEqual([1e-1, true]);
  m.dispose();
});

test('exactly-zero gradients (conv bias before training-mode BN) are compared as noise', async () => {
  const j = fixture.json;
  expect(j.grad_norms_noise).toEqual(expect.arrayContaining(['encoder.c1.bias', 'encoder.c5.bias']));
  const m = build();
  const json = structuredClone(j);
  json.grad_norms['encoder.c2.bias'] = 5e-5 * json.grad_norms_median; // a noise value unlike ours
  json.grad_norms_noise.push('encoder.c3.weight'); // a real gradient declared as noise
  const checks = (await runParityCheck(m, { json, safetensors: fixture.safetensors }, { encoder: false })).checks;
  const get = (name: string) => checks.find((c) => c.name === name)!;
  expect(get('grad:encoder.c2.bias').pass).toBe(true);
  expect(get('grad:encoder.c3.weight').pass).toBe(false);
  const strict = (await runParityCheck(m, { json, safetensors: fixture.safetensors }, { encoder: false, strictNoise: true })).checks;
  expect(strict.find((c) => c.name === 'grad:encoder.c2.bias')!.pass).toBe(false);
  expect(strict.find((c) => c.name === 'grad:encoder.c1.bias')!.pass).toBe(true);
  m.dispose();
});
