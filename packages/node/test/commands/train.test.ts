import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, generateSynthetic } from '@busi/core';
import { stratifiedKFold, toSplitFile, writeSplitFile } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { fileSystem } from '@busi/data';
import { parseHistoryCsv } from '../../src/runs/run-folder';
import { SMALL_RUN, cli, ls, readJson } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-train-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function weights(dir: string): Promise<Float32Array[]> {
  const m = await MultiTaskModel.load(fileSystem(dir));
  const w = m.model.getWeights().map((t) => t.dataSync() as Float32Array);
  m.dispose();
  return w;
}

describe('busi train', () => {
  test('writes a complete run folder; a killed run resumes to the same result; refuses to overwrite; no tensor leak', async () => {
    const full = path.join(tmp, 'full');
    const before = tf.memory().numTensors;
    const r = await cli(['train', '-o', full, ...SMALL_RUN, '--epochs', '2', '--augment'], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/epoch 2: loss \d/);
    expect(r.out).toMatch(/epoch 1: loss \d.*run eta \d+:\d\d/);
    expect(tf.memory().numTensors).toBe(before);
    expect(ls(full)).toEqual(['best-model', 'checkpoint', 'config.json', 'evaluation', 'history.csv', 'last-model', 'metrics.json', 'split.json', 'status.json']);
    const config = readJson(path.join(full, 'config.json'));
    expect(config).toMatchObject({ format: 'busi-run', encoder: 'slim-resnet', decoder: 'unet', size: 32, lambda: 0.7, lr: 0.003, weightDecay: 1e-5, optimizer: 'adam', batchSize: 4, seed: 42, epochs: 2 });
    expect(config.data).toEqual({ kind: 'synthetic', count: 24, seed: 42 });
    expect(config.augment).toMatchObject({ hflip: 0.5, speckle: 0.1 });
    expect(config.versions).toMatchObject({ tfjs: tf.version_core, busi: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(config.backend).toBe('wasm');
    const split = readJson(path.join(full, 'split.json'));
    // three-way by default: train / validation (picks the best epoch) / test (reported)
    expect(split.folds[0].train.length + split.folds[0].validation.length + split.folds[0].test.length).toBe(24);
    expect(split.folds[0].validation.length).toBeGreaterThanOrEqual(2);
    expect(split.folds[0].test.length).toBeGreaterThanOrEqual(4);
    const history = parseHistoryCsv(fs.readFileSync(path.join(full, 'history.csv'), 'utf8'));
    expect(history.epoch).toEqual([1, 2]);
    for (const k of ['loss', 'val_loss', 'val_dice', 'val_accuracy', 'seconds']) expect(history[k].every(Number.isFinite)).toBe(true);
    expect(readJson(path.join(full, 'status.json'))).toMatchObject({ status: 'complete', epochsDone: 2, epochs: 2 });
    const metrics = readJson(path.join(full, 'metrics.json'));
    expect(metrics.best.val_dice).toBe(Math.max(...history.val_dice));
    expect(fs.existsSync(path.join(full, 'evaluation', 'report.html'))).toBe(true);

    // Killed after epoch 1 (simulated), then resumed: identical history and weights.
    const part = path.join(tmp, 'part');
    const a = await cli(['train', '-o', part, ...SMALL_RUN, '--epochs', '2', '--max-epochs-this-run', '1'], tmp);
    expect(a.code).toBe(0);
    expect(readJson(path.join(part, 'status.json'))).toMatchObject({ status: 'stopped', epochsDone: 1 });
    expect(fs.existsSync(path.join(part, 'last-model'))).toBe(false);
    // Refuses to overwrite without --force / --resume, exit code 2, names the folder.
    const refused = await cli(['train', '-o', part, ...SMALL_RUN], tmp);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`run folder '${part}' exists and is not empty`);
    const b = await cli(['train', '-o', part, '--resume', '--backend', 'wasm', '--quiet', '--no-report'], tmp);
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/resuming from .*checkpoint: epoch 1 of 2 done/);
    const h2 = parseHistoryCsv(fs.readFileSync(path.join(part, 'history.csv'), 'utf8'));
    for (const k of ['loss', 'val_loss', 'val_dice', 'val_accuracy']) expect(h2[k]).toEqual(history[k]);
    const [w1, w2] = [await weights(path.join(full, 'last-model')), await weights(path.join(part, 'last-model'))];
    expect(w2.length).toBe(w1.length);
    w1.forEach((w, i) => expect(Array.from(w2[i])).toEqual(Array.from(w)));
    // A complete run resumed again does nothing.
    const again = await cli(['train', '-o', part, '--resume', '--quiet'], tmp);
    expect(again.out).toContain('is complete');
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad options: clear messages and exit code 2', async () => {
    const run = async (args: string[]) => cli(['train', '-o', path.join(tmp, 'bad'), ...args], tmp);
    let r = await run(['--synthetic', '20', '--encoder', 'resnet5']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown encoder 'resnet5'; registered encoders: .*resnet50/);
    r = await run(['--synthetic', '20', '--decoder', 'segformer']);
    expect(r.err).toMatch(/unknown decoder 'segformer'; registered decoders: .*deeplabv3plus.*unet/);
    r = await run(['--synthetic', '20', '--size', '100']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--size 100 is not divisible by the output stride 32 of unet; nearest valid sizes: 96 or 128');
    r = await run(['--data', path.join(tmp, 'nowhere')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--data folder '${path.join(tmp, 'nowhere')}' not found`);
    r = await run([]);
    expect(r.err).toContain('--data <BUSI folder> (or --synthetic N) is required');
    r = await run(['--synthetic', '20', '--lambda', '1.5']);
    expect(r.err).toContain('--lambda must be in [0, 1]; got 1.5');
    r = await run(['--synthetic', '20', '--micro-batch', '16']);
    expect(r.err).toContain('--micro-batch 16 is larger than --batch-size 8');
    r = await cli(['train', '--synthetic', '20'], tmp);
    expect(r.err).toContain('--out <run folder> is required');
    r = await cli(['train', '-o', path.join(tmp, 'none'), '--resume'], tmp);
    expect(r.code).toBe(2);
    expect(r.err).toContain('is not a run folder');
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });

  test('--split-file with --fold trains on that fold of a k-fold split', async () => {
    const labels = Array.from(generateSynthetic({ size: 32, count: 24, seed: 42 }).labels);
    const ids = labels.map((_, i) => `synthetic-${i}`);
    const file = path.join(tmp, 'folds.json');
    writeSplitFile(file, toSplitFile(ids, stratifiedKFold(labels, 3, { seed: 1 }), { kind: 'kfold', seed: 1, groupDuplicates: false }));
    const dir = path.join(tmp, 'fold1');
    const r = await cli(['train', '-o', dir, ...SMALL_RUN, '--epochs', '1', '--split-file', file, '--fold', '1', '--no-report'], tmp);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/trained 1 epoch; best /); // singular for one epoch
    const stored = readJson(path.join(dir, 'split.json'));
    expect(stored.folds).toEqual([readJson(file).folds[1]]);
    expect(readJson(path.join(dir, 'config.json'))).toMatchObject({ splitFile: file, fold: 1 });
    const bad = await cli(['train', '-o', path.join(tmp, 'fold9'), ...SMALL_RUN, '--split-file', file, '--fold', '9'], tmp);
    expect(bad.err).toContain(`--fold 9: split file '${file}' has 3 folds (0-based)`);
  });

  test('a non-finite loss names epoch and batch and marks the run failed', async () => {
    const dir = path.join(tmp, 'nan');
    // lr 1e38 puts weights at float32's limit after one Adam step, so the next forward overflows to
    // inf/NaN; smaller rates (1e30) can keep the loss finite but huge (the focal loss grows only linearly).
    const r = await cli(['train', '-o', dir, ...SMALL_RUN, '--epochs', '1', '--lr', '1e38', '--no-augment'], tmp);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/non-finite loss at epoch 1, batch \d+/);
    expect(readJson(path.join(dir, 'status.json'))).toMatchObject({ status: 'failed' });
  });
});
