/**
 * A saved model says how to use it: busi train and busi demo write a model card into model.json
 * and MODEL_CARD.md; predict and evaluate read it (a copied model folder outside its run behaves as
 * the run), warn when an explicit option contradicts it, and say what they assume without one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MODEL_CARD_KEY, MultiTaskMetrics, MultiTaskModel, Trainer, generateSynthetic } from '@busi/core';
import { SampleDataset, fileSystem, toUint8, writePng } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { loadData } from '../../src/runs/data';
import { SMALL_RUN, cli, readJson } from './helpers';

let tmp: string;
let run: string;
let image: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-card-'));
  run = path.join(tmp, 'run');
  const r = await cli(['train', '-o', run, ...SMALL_RUN, '--epochs', '1', '--no-report'], tmp);
  if (r.code !== 0) throw new Error(r.err);
  const set = generateSynthetic({ size: [40, 48], count: 1, seed: 3 });
  image = path.join(tmp, 'scan.png');
  await writePng(image, { data: toUint8(set.images), height: 40, width: 48, channels: 3 });
}, 300_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const probabilities = (out: string) => JSON.parse(out.slice(out.indexOf('['))).map((p: { probabilities: Record<string, number> }) => p.probabilities);

describe('model cards', () => {
  test('busi train writes the card into model.json and MODEL_CARD.md beside it', () => {
    const best = path.join(run, 'best-model');
    const card = readJson(path.join(best, 'model.json')).userDefinedMetadata[MODEL_CARD_KEY];
    expect(card.preprocessing).toEqual({ size: [32, 32], channels: 3, resize: 'bilinear', normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } });
    expect(card.classNames).toEqual(['benign', 'malignant', 'normal']);
    expect(card.maskThreshold).toBe(0.5);
    expect(card.versions.busi).toBe(readJson(path.join(__dirname, '..', '..', 'package.json')).version);
    expect(card.versions.tfjs).toBe(tf.version_core);
    expect(card.training).toMatchObject({ epochs: 1, 'batch size': 4, optimizer: 'adam', seed: 42 });
    const split = readJson(path.join(run, 'split.json')).folds[0];
    // busi train splits three ways: selected on validation, test held out.
    expect([card.split.train, card.split.validation, card.split.test]).toEqual([split.train.length, split.validation.length, split.test.length]);
    expect(card.split.perClass.benign).toHaveLength(3);
    // The metrics are the saved epoch's validation scores.
    expect(card.metrics.dice).toBeCloseTo(readJson(path.join(run, 'metrics.json')).best.val_dice, 10);
    const md = fs.readFileSync(path.join(best, 'MODEL_CARD.md'), 'utf8');
    expect(md).toContain('Input: 32×32 pixels, 3 channel(s)');
    expect(md).toContain('subtract mean [0.485, 0.456, 0.406] and divide by std [0.229, 0.224, 0.225]');
    expect(md).toContain(`| dice | ${Number(card.metrics.dice.toPrecision(6))} |`);
  });

  test('a copy of best-model/ outside its run predicts exactly as the run (its card, not 448 px); no warning', async () => {
    const copy = path.join(tmp, 'copied-model');
    fs.cpSync(path.join(run, 'best-model'), copy, { recursive: true });
    const viaRun = await cli(['predict', image, '--model', run, '-o', path.join(tmp, 'p1'), '--json'], tmp);
    const viaCopy = await cli(['predict', image, '--model', copy, '-o', path.join(tmp, 'p2'), '--json'], tmp);
    expect(viaCopy.err).toBe('');
    expect(viaCopy.code).toBe(0);
    expect(probabilities(viaCopy.out)).toEqual(probabilities(viaRun.out));
    // An explicit option that contradicts the card is used, with a warning.
    const other = await cli(['predict', image, '--model', copy, '-o', path.join(tmp, 'p3'), '--size', '64', '--threshold', '0.3'], tmp);
    expect(other.code).toBe(0);
    expect(other.err).toContain('--size 64 differs from the model card (32x32, the size the model was trained at); using 64x64 as asked');
    expect(other.err).toContain("--threshold 0.3 differs from the model card's mask threshold 0.5");
    // busi evaluate reads the same card and warns alike.
    const evaluated = await cli(['evaluate', '--model', copy, '--synthetic', '8', '--size', '64', '-o', path.join(tmp, 'e1'), '--gallery', '0'], tmp);
    expect(evaluated.code).toBe(0);
    expect(evaluated.err).toContain('--size 64 differs from the model card (32x32, the size the model was trained at); using 64x64 as asked');
  });

  test('a folder saved without a card gets a message naming what is assumed', async () => {
    const old = path.join(tmp, 'old-model');
    fs.cpSync(path.join(run, 'best-model'), old, { recursive: true });
    const json = readJson(path.join(old, 'model.json'));
    delete json.userDefinedMetadata[MODEL_CARD_KEY];
    fs.writeFileSync(path.join(old, 'model.json'), JSON.stringify(json));
    const r = await cli(['predict', image, '--model', old, '-o', path.join(tmp, 'p4')], tmp);
    expect(r.code).toBe(0);
    expect(r.err).toContain('has no model card and no run folder (saved by an older busi); assuming input 448x448, 3 channel(s), normalisation mean [0.485, 0.456, 0.406] std [0.229, 0.224, 0.225], classes benign / malignant / normal, mask threshold 0.5');
    // Inside its run folder, the run's config.json is used instead (and said).
    fs.cpSync(old, path.join(run, 'best-model'), { recursive: true });
    const inRun = await cli(['predict', image, '--model', run, '-o', path.join(tmp, 'p5')], tmp);
    expect(inRun.err).toContain("has no model card (saved by an older busi); using its run folder's config.json: input 32x32");
  });

  test('busi evaluate on the demo model uses its own normalisation (mean 0.3, std 0.2), not ImageNet', async () => {
    const demo = path.join(tmp, 'demo');
    const d = await cli(['demo', '-o', demo, '--count', '20', '--epochs', '1', '--size', '32', '--overlays', '0', '--quiet', '--backend', 'wasm'], tmp);
    expect(d.code).toBe(0);
    const card = readJson(path.join(demo, 'model', 'model.json')).userDefinedMetadata[MODEL_CARD_KEY];
    expect(card.preprocessing.normalization).toEqual({ mean: [0.3, 0.3, 0.3], std: [0.2, 0.2, 0.2] });
    const out = path.join(tmp, 'demo-eval');
    const e = await cli(['evaluate', '--model', path.join(demo, 'model'), '--synthetic', '8', '--seed', '5', '-o', out, '--gallery', '0'], tmp);
    expect(e.err).toBe('');
    const scored = readJson(path.join(out, 'metrics.json'));
    // The same images, normalised as the card says, through the trainer directly.
    const model = await MultiTaskModel.load(fileSystem(path.join(demo, 'model')));
    const data = loadData({ kind: 'synthetic', count: 8, seed: 5 }, 32);
    const trainer = new Trainer(model, { metrics: [new MultiTaskMetrics({ classNames: ['benign', 'malignant', 'normal'] })] });
    const logs = await trainer.evaluate(new SampleDataset(data.source, { normalization: card.preprocessing.normalization }));
    trainer.dispose();
    model.dispose();
    expect(scored.losses.loss).toBeCloseTo(logs.loss, 5);
  }, 300_000);

  test("MultiTaskModel.load accepts tfjs's file:///…/model.json and keeps the card", async () => {
    const url = `file://${path.join(run, 'last-model', 'model.json')}`;
    const model = await MultiTaskModel.load(url);
    expect(model.card?.preprocessing.size).toEqual([32, 32]);
    model.dispose();
  });
});
