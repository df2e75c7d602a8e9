import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@busi/kernels';
import { cli, ls, readJson } from './helpers';

const TINY = ['--encoder', 'slim-resnet', '--decoder-channels', '16,16,8,8,8', '--size', '32', '--epochs', '1', '--batch-size', '4', '--lr', '0.003', '--backend', 'wasm', '--quiet'];

const BUSI = process.env.BUSI_DATA ?? path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'busi', 'Dataset_BUSI_with_GT');
const present = fs.existsSync(path.join(BUSI, 'benign'));
if (!present) console.warn(`cv.test: the BUSI slice test is skipped: no BUSI dataset at '${BUSI}' (set BUSI_DATA)`);

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-cv-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('busi cv on the synthetic set: fold runs, per-fold metrics with mean ± sd, a fold ensemble on the held-out test part; resumes', async () => {
  const out = path.join(tmp, 'syn');
  const before = tf.memory().numTensors;
  const r = await cli(['cv', '--synthetic', '30', '--folds', '2', '--tta', 'flip', '-o', out, ...TINY], tmp);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(tf.memory().numTensors).toBe(before);
  expect(ls(out)).toEqual(['cv-split.json', 'cv.json', 'ensemble', 'fold-0', 'fold-1', 'splits', 'summary.json', 'summary.md']);
  const record = readJson(path.join(out, 'cv-split.json'));
  // 20 % held out, every other image in exactly one fold
  expect(record.test.length).toBe(6);
  expect(Object.keys(record.foldOf)).toHaveLength(24);
  expect(new Set(Object.values(record.foldOf))).toEqual(new Set([0, 1]));
  for (const j of [0, 1]) {
    const split = readJson(path.join(out, `fold-${j}`, 'split.json'));
    expect(split).toMatchObject({ kind: 'cv', fold: j, foldCount: 2, seed: 42 });
    const f = split.folds[0];
    expect(f.validation.sort()).toEqual(Object.entries(record.foldOf).filter(([, k]) => k === j).map(([id]) => id).sort());
    expect(f.test.sort()).toEqual([...record.test].sort());
    expect(f.train.filter((id: string) => f.validation.includes(id) || f.test.includes(id))).toEqual([]);
    expect(readJson(path.join(out, `fold-${j}`, 'status.json')).status).toBe('complete');
    expect(readJson(path.join(out, `fold-${j}`, 'evaluation', 'metrics.json')).images).toBe(f.validation.length);
  }
  const summary = readJson(path.join(out, 'summary.json'));
  expect(summary.folds.map((f: { fold: number }) => f.fold)).toEqual([0, 1]);
  const dice = summary.folds.map((f: { scores: { dice: number } }) => f.scores.dice);
  expect(summary.meanSd.dice.mean).toBeCloseTo((dice[0] + dice[1]) / 2, 9);
  expect(summary.meanSd.dice.sd).toBeCloseTo(Math.abs(dice[0] - dice[1]) / Math.SQRT2, 9);
  expect(summary.ensemble).toMatchObject({ images: 6, predictor: '2 models (mean of probabilities), horizontal-flip TTA' });
  expect(summary.ensemble.headline.dice.low).toBeLessThanOrEqual(summary.ensemble.headline.dice.value);
  const ens = readJson(path.join(out, 'ensemble', 'metrics.json'));
  expect(ens.perImage.map((p: { id: string }) => p.id).sort()).toEqual([...record.test].sort());
  expect(fs.readFileSync(path.join(out, 'summary.md'), 'utf8')).toMatch(/\| mean ± sd \| \| \| \d\.\d{3} ± \d\.\d{3}/);

  // resume: finished folds are kept, the summary is the same
  const again = await cli(['cv', '--resume', '-o', out, '--backend', 'wasm', '--quiet'], tmp);
  expect(again.code).toBe(0);
  expect(again.out).toContain('fold 0: complete, kept');
  expect(again.out).toContain('fold 1: complete, kept');
  expect(readJson(path.join(out, 'summary.json')).ensemble.headline.dice.value).toBeCloseTo(summary.ensemble.headline.dice.value, 9);
  const refuse = await cli(['cv', '--synthetic', '30', '-o', out, ...TINY], tmp);
  expect([refuse.code, refuse.err]).toEqual([2, expect.stringContaining('exists and is not empty')]);
});

(present ? test : test.skip)('busi cv on a small BUSI slice (grouped by near-duplicates) runs end to end', async () => {
  const root = path.join(tmp, 'slice');
  for (const cls of ['benign', 'malignant', 'normal']) {
    fs.mkdirSync(path.join(root, cls), { recursive: true });
    // benign (433) / malignant (145) is one picture under two labels: a cross-class group in the slice
    const numbers = cls === 'benign' ? [1, 2, 3, 4, 5, 433] : cls === 'malignant' ? [1, 2, 3, 4, 5, 145] : [1, 2, 3, 4, 5, 6];
    for (const i of numbers) {
      for (const f of fs.readdirSync(path.join(BUSI, cls)).filter((x) => x.startsWith(`${cls} (${i})`))) fs.symlinkSync(path.join(BUSI, cls, f), path.join(root, cls, f));
    }
  }
  const out = path.join(tmp, 'busi-cv');
  const r = await cli(['cv', '--data', root, '--folds', '2', '--test-fraction', '0.34', '-o', out, ...TINY], tmp);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/1 cross-class group/);
  const record = readJson(path.join(out, 'cv-split.json'));
  expect(record.groups['malignant (145)']).toBe('benign (433)');
  const side = (id: string) => (record.test.includes(id) ? 'test' : record.foldOf[id]);
  expect(side('benign (433)')).toBe(side('malignant (145)'));
  const summary = readJson(path.join(out, 'summary.json'));
  expect(summary.folds).toHaveLength(2);
  expect(summary.ensemble.images).toBe(record.test.length);
});
