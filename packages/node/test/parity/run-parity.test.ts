import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, Resize, createParityFixture, registerDecoder, registerEncoder, type Decoder, type Encoder } from '@busi/core';
import { buildParityModel, listParityFixtures, parseParityArgs, registryNames, runParityDir } from '../../src/parity/run-parity';

function toyEncoder(): Encoder {
  const ch = [3, 4, 6, 8, 10, 12];
  return {
    name: 'paritytoy', outChannels: ch, reductions: [1, 2, 4, 8, 16, 32], featureNames: [], outputStride: 32,
    apply(x: SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i <= 5; i++) {
        y = new Conv2d({ name: `encoder.c${i}`, filters: ch[i], kernelSize: 3, strides: 2, padding: 1 }).apply(y) as SymbolicTensor;
        y = new BatchNorm2d({ name: `encoder.bn${i}` }).apply(y) as SymbolicTensor;
        out.push(tfl.layers.reLU().apply(y) as SymbolicTensor);
        y = out[i];
      }
      return out;
    },
    getConfig: () => ({ name: 'paritytoy', args: { inChannels: 3, depth: 5, outputStride: 32, prefix: 'encoder' } }),
  };
}
function toyDecoder(args: { dropout?: number }): Decoder {
  if (args.dropout !== 0) throw new Error('the parity runner must pass dropout: 0');
  return {
    name: 'paritytoydec', outChannels: 4, outputStride: 1, headKernelSize: 3,
    apply(f: SymbolicTensor[]) {
      const y = new Conv2d({ name: 'decoder.c', filters: 4, kernelSize: 1 }).apply(f[5]) as SymbolicTensor;
      return new Resize({ name: 'decoder.up', scale: 32 }).apply(y) as SymbolicTensor;
    },
    getConfig: () => ({ name: 'paritytoydec', args: {} }),
  };
}

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  registerEncoder('paritytoy', () => toyEncoder(), { outChannels: [3, 4, 6, 8, 10, 12], family: 'toy' });
  registerDecoder('paritytoydec', (a) => toyDecoder(a as { dropout?: number }), { deterministicArgs: { dropout: 0 } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-parity-'));
  const model = buildParityModel('paritytoydec', 'paritytoy');
  const fx = await createParityFixture(model, { model: 'ParityToyDec__paritytoy', decoder: 'ParityToyDec', encoder: 'paritytoy', inputShape: [2, 3, 32, 32] });
  model.dispose();
  const write = (name: string, json: object, bytes: Uint8Array) => {
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(json));
    fs.writeFileSync(path.join(dir, `${name}.safetensors`), bytes);
  };
  write('ParityToyDec__paritytoy', fx.json, fx.safetensors);
  write('ParityToyDec__nosuchencoder', { ...fx.json, model: 'ParityToyDec__nosuchencoder', encoder: 'nosuchencoder' }, fx.safetensors);
  const bad = structuredClone(fx.json);
  bad.grad_norms['encoder.c1.weight'] = 2 * bad.grad_norms['encoder.c1.weight']!;
  write('ParityToyDec__paritytoy2', { ...bad, model: 'ParityToyDec__paritytoy2' }, fx.safetensors);
  fs.writeFileSync(path.join(dir, 'Broken__x.json'), '{');
  fs.writeFileSync(path.join(dir, 'Broken__x.safetensors'), '');
  fs.writeFileSync(path.join(dir, 'Lonely__x.json'), '{}'); // no .safetensors: not a fixture
  fs.writeFileSync(path.join(dir, 'inputs.json'), '{}');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('argument parsing', () => {
  expect(parseParityArgs([])).toMatchObject({ dir: 'fixtures/parity', gradients: true, train: true, encoder: true, backend: 'auto' });
  expect(parseParityArgs(['x', '--only', 'Unet__resnet50,FPN', '--no-gradients', '--strict-noise', '--backend', 'cpu', '--json', 'r.json'])).toMatchObject({
    strictNoise: true,
    dir: 'x', only: ['Unet__resnet50', 'FPN'], gradients: false, backend: 'cpu', json: 'r.json',
  });
  expect(() => parseParityArgs(['a', 'b'])).toThrow(/unexpected argument 'b'/);
  expect(() => parseParityArgs(['--only'])).toThrow(/--only needs a value/);
  expect(() => parseParityArgs(['--frobnicate'])).toThrow(/usage: parity/);
  expect(parseParityArgs(['--backend', 'webgpu']).backend).toBe('webgpu');
  expect(() => parseParityArgs(['--backend', 'cuda'])).toThrow(/--backend: unknown backend 'cuda', expected one of auto, .*webgpu/);
});

test('smp names map to registry names; unregistered parts are null', () => {
  expect(registryNames('Nope', 'paritytoy')).toEqual({ decoder: null, encoder: 'paritytoy' });
  expect(registryNames('ParityToyDec', 'nosuch')).toEqual({ decoder: 'paritytoydec', encoder: null });
});

test('runParityDir: pass, gradient failure, skipped and error, one line each, no leaks', async () => {
  expect(listParityFixtures(dir)).toEqual([
    'Broken__x.json', 'ParityToyDec__nosuchencoder.json', 'ParityToyDec__paritytoy.json', 'ParityToyDec__paritytoy2.json',
  ]);
  const lines: string[] = [];
  const before = tf.memory().numTensors;
  const results = await runParityDir(dir, { onResult: (r) => lines.push(r.line) });
  expect(tf.memory().numTensors).toBe(before);
  expect(results.map((r) => [r.model, r.status])).toEqual([
    ['Broken__x', 'error'],
    ['ParityToyDec__nosuchencoder', 'skipped'],
    ['ParityToyDec__paritytoy', 'pass'],
    ['ParityToyDec__paritytoy2', 'fail'],
  ]);
  expect(lines[0]).toMatch(/^Broken__x: ERROR reading Broken__x\.json/);
  expect(lines[1]).toBe('ParityToyDec__nosuchencoder: skipped (not registered: encoder nosuchencoder)');
  expect(lines[2]).toMatch(/^ParityToyDec__paritytoy: PASS {2}max rel err/);
  expect(lines[3]).toMatch(/^ParityToyDec__paritytoy2: FAIL .*failed: grad:encoder\.c1\.weight 5\.00e-1 > 5\.00e-2/);
  const only = await runParityDir(dir, { only: ['paritytoy2'], gradients: false });
  expect(only.map((r) => [r.model, r.status])).toEqual([['ParityToyDec__paritytoy2', 'pass']]);
  expect(() => listParityFixtures(path.join(dir, 'missing'))).toThrow(/does not exist/);
});

test("a fixture's own tolerances: null leaves a check out and says so, a number replaces the README's, --readme-tolerances ignores them, a bad value names the fixture", async () => {
  // The one home of tolerance overrides is the fixture's JSON. Here: the toy fixture whose c1 gradient norm is off by 50 %.
  const tolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-parity-tol-'));
  const base = JSON.parse(fs.readFileSync(path.join(dir, 'ParityToyDec__paritytoy2.json'), 'utf8'));
  const put = (tolerances: Record<string, unknown>) => {
    fs.writeFileSync(path.join(tolDir, 'ParityToyDec__paritytoy2.json'), JSON.stringify({ ...base, tolerances, tolerances_note: 'test' }));
    fs.copyFileSync(path.join(dir, 'ParityToyDec__paritytoy2.safetensors'), path.join(tolDir, 'ParityToyDec__paritytoy2.safetensors'));
  };
  put({ 'eval.mask': null, 'eval.label': 1e-30, 'grad:encoder.c1.weight': 0.75 });
  const [own] = await runParityDir(tolDir, {});
  const report = own.report!;
  expect(report.notCompared).toEqual(['eval.mask']);
  expect(report.checks.map((c) => c.name)).not.toContain('eval.mask');
  expect(own.line).toMatch(/not compared \(reference not reproducible\): eval\.mask/);
  const label = report.checks.find((c) => c.name === 'eval.label')!;
  expect(label.tolerance).toBeCloseTo(1e-6, 12);
  expect(label.pass).toBe(label.err <= label.tolerance);
  const grad = report.checks.find((c) => c.name === 'grad:encoder.c1.weight')!;
  expect([grad.err, grad.tolerance, grad.pass]).toEqual([expect.closeTo(0.5, 6), 0.75, true]);
  expect(grad.note).toMatch(/tolerance from the fixture/);
  // The README's tolerances only: every check is compared and the doubled norm fails at 5e-2.
  const [readme] = await runParityDir(tolDir, { readmeTolerances: true });
  expect(readme.report!.notCompared).toEqual([]);
  expect(readme.report!.checks.find((c) => c.name === 'grad:encoder.c1.weight')).toMatchObject({ tolerance: 5e-2, pass: false });
  put({ 'eval.mask': -1 });
  const [bad] = await runParityDir(tolDir, {});
  expect(bad.status).toBe('error');
  expect(bad.line).toMatch(/ParityToyDec__paritytoy2: tolerances must map check names to positive numbers or null; bad: eval\.mask/);
  expect(parseParityArgs(['--readme-tolerances']).readmeTolerances).toBe(true);
  expect(parseParityArgs([]).readmeTolerances).toBe(false);
});
