/**
 * Runs every Node example in examples/ against the TypeScript sources (examples/run-from-source.mjs
 * bundles each with @busi/* mapped to packages/*\/src) and checks the machine-readable `RESULT`
 * line each prints last.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const examplesDir = path.join(root, 'examples');

function runExample(file: string, ...args: string[]): { result: Record<string, any>; stdout: string } {
  const r = spawnSync(process.execPath, [path.join(examplesDir, 'run-from-source.mjs'), path.join(examplesDir, file), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    // The examples pick the backend themselves (auto); keep a CI-wide override out of them.
    env: { ...process.env, BUSI_BACKEND: 'auto' },
  });
  if (r.status !== 0) throw new Error(`${file} exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${file} printed no RESULT line:\n${r.stdout}`);
  return { result: JSON.parse(line.slice('RESULT '.length)), stdout: r.stdout };
}

describe('examples/', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-examples-test-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('every example script is covered by this test', () => {
    const scripts = fs.readdirSync(examplesDir).filter((f) => /^\d\d-.*\.mjs$/.test(f));
    expect(scripts.sort()).toEqual([
      '01-compose-model.mjs',
      '02-train-synthetic.mjs',
      '03-save-and-evaluate.mjs',
      '04-pytorch-weights.mjs',
      '05-train-busi.mjs',
      '06-custom-encoder-decoder.mjs',
    ]);
  });

  test('01 composes resnet18 + slim Unet + heads and predicts', () => {
    const { result, stdout } = runExample('01-compose-model.mjs');
    // resnet18's encoder count is smp's; the rest follows from the slim decoder widths.
    expect(result.params.encoder).toBe(11_176_512);
    expect(result.params.classificationHead).toBe(512 * 3 + 3);
    expect(result.params.total).toBe(result.params.encoder + result.params.decoder + result.params.segmentationHead + result.params.classificationHead);
    expect(result.maskShape).toEqual([2, 64, 64, 1]);
    expect(result.logitsShape).toEqual([2, 3]);
    for (const s of result.probabilitySums) expect(s).toBeCloseTo(1, 5);
    expect(stdout).toContain('divisible by the output stride 32');
  });

  test('02 trains on synthetic data with finite losses, metrics and no tensor leak; a rerun prints the same numbers', () => {
    const { result } = runExample('02-train-synthetic.mjs', '2');
    expect(result.epochs).toBe(2);
    expect(result.steps).toBe(6); // 12 training images, batch 4, 2 epochs
    for (const v of [...result.loss, ...result.valLoss]) expect(Number.isFinite(v) && v > 0).toBe(true);
    for (const v of [...result.valAccuracy, ...result.valDice]) expect(v >= 0 && v <= 1).toBe(true);
    expect(result.tensorsAfterEpoch[1]).toBe(result.tensorsAfterEpoch[0]);
    // Issue 12 item 3: the example (model and trainer seeded) printed other results on every run.
    const { result: again } = runExample('02-train-synthetic.mjs', '2');
    expect(again).toEqual(result);
  });

  test('03 saves with the file-system handler, reloads identically and evaluates', () => {
    const out = path.join(tmp, 'ex03');
    const { result } = runExample('03-save-and-evaluate.mjs', out);
    expect(result.files).toEqual(['model.json', 'weights.bin']);
    expect(result.maxDiff).toBe(0);
    expect(result.accuracy >= 0 && result.accuracy <= 1).toBe(true);
    expect(result.overlays).toHaveLength(4);
    for (const f of result.overlays) expect(fs.readFileSync(f).subarray(1, 4).toString()).toBe('PNG');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'model', 'model.json'), 'utf8'));
    expect(json.userDefinedMetadata.busi.encoder.name).toBe('resnet18');
  });

  test('04 round-trips a safetensors state dict and loads a torchvision-style encoder checkpoint', () => {
    const { result } = runExample('04-pytorch-weights.mjs', path.join(tmp, 'ex04'));
    expect(result.loaded).toBe(154);
    expect(result.maxDiff).toBe(0);
    // resnet18 encoder: 20 convs + 20 BatchNorms × 4 tensors.
    expect(result.encoderLoaded).toBe(100);
    expect(result.unexpected).toEqual([]);
    expect(result.onlyDecoderAndHeadsMissing).toBe(true);
    expect(result.featureDiff).toBeLessThan(1e-4);
  });

  test('06 registers a custom encoder and decoder that compose, save/load and pass both conformance suites', () => {
    const { result } = runExample('06-custom-encoder-decoder.mjs');
    for (const v of Object.values(result.shapes) as { mask: number[]; logits: number[] }[]) {
      expect(v.mask).toEqual([2, 64, 64, 1]);
      expect(v.logits).toEqual([2, 3]);
    }
    // The PyTorch twins' parameter count, by hand: encoder stages (3x3 conv without bias + BN, twice)
    // for widths 16, 24, 32, 48, 64; 1x1 laterals (with bias) from 24, 32, 48, 64 to 32 channels and
    // a fusing 3x3 conv + BN; a 1x1 segmentation head from 32 channels; a linear head from 64.
    const stage = (c: number, w: number) => 9 * c * w + 2 * w + 9 * w * w + 2 * w;
    const encoder = stage(3, 16) + stage(16, 24) + stage(24, 32) + stage(32, 48) + stage(48, 64);
    const decoder = (24 + 32 + 48 + 64) * 32 + 4 * 32 + 9 * 32 * 32 + 2 * 32;
    expect(result.shapes['topdown__tiny-vgg'].params).toBe(encoder + decoder + (32 + 1) + (64 * 3 + 3));
    expect(result.firstNames).toEqual([
      'encoder.stages.0.0.weight',
      'encoder.stages.0.1.weight',
      'encoder.stages.0.1.bias',
      'encoder.stages.0.1.running_mean',
      'encoder.stages.0.1.running_var',
    ]);
    expect(result.roundTrip).toBe(0);
    expect(result.conformance.length).toBeGreaterThanOrEqual(5);
    for (const c of result.conformance) expect(c).toEqual({ check: c.check, pass: true });
    expect(result.decoderConformance.length).toBeGreaterThanOrEqual(5);
    for (const c of result.decoderConformance) expect(c).toEqual({ check: c.check, pass: true });
  });

  // The real dataset is not part of the repository; the workspace keeps a copy beside it.
  const busi = path.resolve(root, '..', 'shared', 'busi');
  (fs.existsSync(busi) ? test : test.skip)('05 trains on a small stratified subset of the real BUSI set and evaluates the best model', () => {
    const { result } = runExample('05-train-busi.mjs', '--data', busi, '--limit', '24', '--size', '64', '--encoder', 'resnet18', '--epochs', '1', '--out', path.join(tmp, 'ex05'));
    expect(result.train + result.val).toBe(result.images);
    expect(result.val).toBeGreaterThanOrEqual(3);
    expect(result.steps).toBe(Math.ceil(result.train / 8));
    // The reloaded best checkpoint scores exactly what validation logged for its epoch.
    expect(result.final.dice).toBeCloseTo(result.bestValDice, 6);
    expect(Number.isFinite(result.final.loss)).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'ex05', 'best-model', 'model.json'))).toBe(true);
  });
});
