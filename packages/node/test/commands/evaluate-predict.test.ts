import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { generateSynthetic } from '@busi/core';
import { readPng, toUint8, writePng } from '@busi/data';
import { commands } from '../../src';
import { cli, ls, readJson, trainSmallRun } from './helpers';

let tmp: string;
let run: string;
beforeAll(async () => {
  ({ tmp, run } = await trainSmallRun('eval', 'run', ['--epochs', '2', '--no-report', '--val-fraction', '0.2']));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('busi evaluate', () => {
  test("scores a run's validation part: metrics.json, metrics.md, report.html with tables, curves and gallery PNGs", async () => {
    const before = tf.memory().numTensors;
    // --subset validation: the part that picked the best epoch (the default is the run's test part)
    const r = await cli(['evaluate', '--model', run, '--gallery', '3', '--subset', 'validation'], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const out = path.join(run, 'evaluation');
    expect(ls(out)).toEqual(['curves-loss.png', 'curves-loss.svg', 'curves-scores.png', 'curves-scores.svg', 'gallery', 'metrics.json', 'metrics.md', 'reliability.png', 'reliability.svg', 'report.html', 'roc.png', 'roc.svg']);
    const m = readJson(path.join(out, 'metrics.json'));
    const nVal = readJson(path.join(run, 'split.json')).folds[0].validation.length;
    expect(m.images).toBe(nVal);
    expect(m.classification.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(nVal);
    expect(m.classification.classNames).toEqual(['benign', 'malignant', 'normal']);
    for (const k of ['accuracy', 'macroF1']) expect(m.classification[k]).toBeGreaterThanOrEqual(0);
    for (const k of ['iou', 'dice', 'f1']) {
      expect(m.segmentation.perImage[k]).toBeGreaterThanOrEqual(0);
      expect(m.segmentation.pooled[k]).toBeLessThanOrEqual(1);
    }
    // The validation score the trainer logged for the best epoch is what evaluate finds for best-model.
    const best = readJson(path.join(run, 'metrics.json')).best;
    expect(m.segmentation.perImage.dice).toBeCloseTo(best.val_dice, 5);
    expect(m.classification.accuracy).toBeCloseTo(best.val_accuracy, 6);
    const md = fs.readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toContain(`| accuracy | ${m.classification.accuracy.toFixed(4)} |`);
    expect(md).toContain('| truth \\ pred | benign | malignant | normal |');
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const id of ['run', 'metrics', 'classification', 'per-class', 'confusion']) expect(html).toContain(`<table id="${id}">`);
    expect(html).toContain('<td>0.7·Dice + 0.3·Focal</td>');
    expect(html).toContain(`<td>${m.segmentation.perImage.dice.toFixed(4)}</td>`);
    // ROC plot, reliability diagram, two training-curve charts
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    expect(html).toContain('ROC, one class vs the rest');
    expect(html).toContain('Reliability diagram');
    expect(html).toContain('<table id="headline">');
    // headline numbers: each with a 95 % interval around it, consistent with the per-image rows
    const h = m.metrics.headline;
    for (const k of ['dice', 'iou', 'hd95', 'asd', 'accuracy', 'macro_f1', 'macro_auc', 'macro_ap', 'ece', 'auc_benign', 'ap_normal']) {
      expect([k, h[k].level, h[k].resamples > 0]).toEqual([k, 0.95, true]);
      if (Number.isFinite(h[k].value)) expect(h[k].low).toBeLessThanOrEqual(h[k].value + 1e-9);
    }
    expect(h.dice.value).toBeCloseTo(m.segmentation.perImage.dice, 9);
    expect(h.accuracy.value).toBeCloseTo(m.classification.accuracy, 9);
    expect(m.perImage).toHaveLength(nVal);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(h.dice.value).toBeCloseTo(mean(m.perImage.map((r: { dice: number }) => r.dice)), 9);
    expect(md).toMatch(/\| Dice \(per image, mean\) \| \d\.\d{4} \| \d\.\d{4} – \d\.\d{4} \|/);
    const imgs = [...html.matchAll(/<img src="([^"]+)"/g)].map((x) => x[1]);
    expect(imgs).toHaveLength(3);
    for (const src of imgs) {
      const png = await readPng(path.join(out, src));
      // image | truth | prediction, 4-pixel gaps.
      expect([png.height, png.width]).toEqual([32, 3 * 32 + 8]);
    }
    const curve = await readPng(path.join(out, 'curves-loss.png'));
    expect(curve.width).toBe(560);
  });

  test('--tta flip averages the mirrored prediction; --spacing scales HD95 and ASD into mm', async () => {
    const out = path.join(tmp, 'eval-tta');
    const before = tf.memory().numTensors;
    const r = await cli(['evaluate', '--model', run, '--tta', 'flip', '--spacing', '0.5', '-o', out, '--gallery', '0'], tmp);
    expect(r.err).toBe('');
    expect(tf.memory().numTensors).toBe(before);
    const m = readJson(path.join(out, 'metrics.json'));
    expect(m.predictor).toBe('1 model, horizontal-flip TTA');
    expect(m.spacing).toBe(0.5);
    for (const row of m.perImage) {
      if (row.hd95 === null) expect(row.hd95_mm).toBeNull();
      else {
        expect(row.hd95_mm).toBeCloseTo(row.hd95 * 0.5, 9);
        expect(row.asd_mm).toBeCloseTo(row.asd * 0.5, 9);
      }
    }
    expect(m.metrics.headline.hd95_mm.value).toBeCloseTo(m.metrics.headline.hd95.value * 0.5, 9);
    const bad = await cli(['evaluate', '--model', run, '--spacing', '0,1'], tmp);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--spacing must be mm per pixel')]);
  });

  test('other data: --synthetic N scores all N images; errors name the option', async () => {
    const out = path.join(tmp, 'eval-syn');
    const r = await cli(['evaluate', '-m', path.join(run, 'last-model'), '--synthetic', '9', '--seed', '7', '-o', out, '--gallery', '0'], tmp);
    expect(r.err).toBe('');
    expect(readJson(path.join(out, 'metrics.json')).images).toBe(9);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).not.toContain('<img');
    let e = await cli(['evaluate'], tmp);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining('--model <run folder or model folder> is required')]);
    e = await cli(['evaluate', '-m', path.join(tmp, 'missing')], tmp);
    expect(e.code).toBe(2);
    expect(e.err).toContain(`--model: '${path.join(tmp, 'missing')}' not found`);
    e = await cli(['evaluate', '-m', tmp], tmp);
    expect(e.err).toContain('is neither a run folder (config.json) nor a model folder (model.json)');
  });
});

describe('--backend and BUSI_BACKEND', () => {
  test('every command that computes leaves --backend unset by default, so BUSI_BACKEND is heard', () => {
    const withBackend = commands.filter((c) => c.options.backend != null);
    expect(withBackend.map((c) => c.name).sort()).toEqual(['cv', 'demo', 'evaluate', 'export', 'grid-lambda', 'predict', 'train']);
    for (const c of withBackend) expect({ command: c.name, default: c.options.backend.default }).toEqual({ command: c.name, default: undefined });
  });

  test('BUSI_BACKEND picks the backend when --backend is not given; --backend wins over it', async () => {
    const saved = process.env.BUSI_BACKEND;
    process.env.BUSI_BACKEND = 'cpu';
    try {
      const fromEnv = await cli(['evaluate', '--model', run, '--subset', 'validation', '--out', path.join(tmp, 'eval-env')], tmp);
      expect(fromEnv.code).toBe(0);
      expect(fromEnv.out).toMatch(/^busi backend: cpu \(@tensorflow\/tfjs-backend-cpu\) \[forced: cpu\]/m);
      const fromFlag = await cli(['evaluate', '--model', run, '--subset', 'validation', '--backend', 'wasm', '--out', path.join(tmp, 'eval-flag')], tmp);
      expect(fromFlag.code).toBe(0);
      expect(fromFlag.out).toMatch(/^busi backend: wasm .*\[forced: wasm\]/m);
    } finally {
      if (saved === undefined) delete process.env.BUSI_BACKEND;
      else process.env.BUSI_BACKEND = saved;
    }
  });
});

describe('busi predict', () => {
  test('writes masks at the image size, overlays and predictions.json; prints probabilities', async () => {
    const set = generateSynthetic({ size: [40, 48], count: 2, seed: 3 });
    const files: string[] = [];
    for (let i = 0; i < 2; i++) {
      const f = path.join(tmp, `img${i}.png`);
      await writePng(f, { data: toUint8(set.images.subarray(i * 40 * 48 * 3, (i + 1) * 40 * 48 * 3)), height: 40, width: 48, channels: 3 });
      files.push(f);
    }
    const out = path.join(tmp, 'pred');
    const before = tf.memory().numTensors;
    const r = await cli(['predict', ...files, '--model', run, '-o', out, '--json', '--backend', 'wasm'], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const printed = JSON.parse(r.out.slice(r.out.indexOf('[')));
    expect(printed).toEqual(readJson(path.join(out, 'predictions.json')));
    expect(printed).toHaveLength(2);
    for (const p of printed) {
      const probs = Object.values(p.probabilities) as number[];
      expect(Object.keys(p.probabilities)).toEqual(['benign', 'malignant', 'normal']);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.class).toBe(Object.keys(p.probabilities)[probs.indexOf(Math.max(...probs))]);
      const mask = await readPng(p.mask);
      expect([mask.height, mask.width, mask.channels]).toEqual([40, 48, 1]);
      expect(mask.data.every((v) => v === 0 || v === 255)).toBe(true);
      expect(p.lesionFraction).toBeCloseTo(mask.data.filter((v) => v).length / (40 * 48), 6);
      expect((await readPng(p.overlay)).width).toBe(48);
    }
    const text = await cli(['predict', files[0], '--model', run, '-o', out], tmp);
    expect(text.out).toMatch(/img0\.png: (benign|malignant|normal) \(benign \d+\.\d%, malignant \d+\.\d%, normal \d+\.\d%\); lesion/);
    expect(text.out).toContain(`wrote 1 mask and overlay and predictions.json to ${out}`); // singular for one image
    // A folder stands for its images (mask files excluded).
    const folder = path.join(tmp, 'folder');
    fs.mkdirSync(folder);
    fs.copyFileSync(files[1], path.join(folder, 'a (1).png'));
    fs.copyFileSync(files[1], path.join(folder, 'a (1)_mask.png'));
    const byFolder = await cli(['predict', folder, '--model', run, '-o', path.join(tmp, 'pred2')], tmp);
    expect(readJson(path.join(tmp, 'pred2', 'predictions.json')).map((x: { image: string }) => x.image)).toEqual([path.join(folder, 'a (1).png')]);
    expect(byFolder.code).toBe(0);
    let e = await cli(['predict', path.join(tmp, 'nope.png'), '--model', run], tmp);
    expect([e.code, e.err]).toEqual([2, expect.stringContaining(`image '${path.join(tmp, 'nope.png')}' not found`)]);
    e = await cli(['predict', files[0]], tmp);
    expect(e.err).toContain('--model <run folder or model folder> is required');
    e = await cli(['predict', files[0], '--model', run, '--size', '40', '-o', out], tmp);
    expect(e.code).toBe(1);
    expect(e.err).toContain('nearest valid sizes: 32x32');
  });
});
