import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { syntheticSample } from '@busi/core';
import { writePng, type RawImage } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { cli, readJson } from './helpers';

// Issue 12, item 7: `busi train` grouped duplicates only with --group-duplicates, so the README's
// main command leaked copies across the split. Now grouping (by near-duplicates) is the default.

const SIZE: [number, number] = [96, 128];
let tmp: string;
let data: string;

function picture(seed: number, label: number): { image: RawImage; mask: RawImage } {
  const s = syntheticSample({ size: SIZE, label, seed, channels: 3 });
  return {
    image: { data: Uint8Array.from(s.image, (v) => Math.round(v * 255)), height: SIZE[0], width: SIZE[1], channels: 3 },
    mask: { data: Uint8Array.from(s.mask, (v) => (v ? 255 : 0)), height: SIZE[0], width: SIZE[1], channels: 1 },
  };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-grouped-'));
  data = path.join(tmp, 'Dataset_BUSI_with_GT');
  const classes = ['benign', 'malignant', 'normal'];
  for (const [label, name] of classes.entries()) {
    for (let n = 1; n <= 5; n++) {
      const p = picture(100 * label + n, label);
      await writePng(path.join(data, name, `${name} (${n}).png`), p.image);
      await writePng(path.join(data, name, `${name} (${n})_mask.png`), p.mask);
    }
  }
  // benign (1) again as malignant (6), resized (a cross-class copy); benign (2) again as benign (6), JPEG re-encoded
  const b1 = picture(1, 0);
  const { data: small } = await sharp(b1.image.data, { raw: { width: SIZE[1], height: SIZE[0], channels: 3 } }).resize(100, 75).raw().toBuffer({ resolveWithObject: true });
  await writePng(path.join(data, 'malignant', 'malignant (6).png'), { data: new Uint8Array(small), height: 75, width: 100, channels: 3 });
  await writePng(path.join(data, 'malignant', 'malignant (6)_mask.png'), { data: new Uint8Array(75 * 100), height: 75, width: 100, channels: 1 });
  const b2 = picture(2, 0);
  const jpg = await sharp(b2.image.data, { raw: { width: SIZE[1], height: SIZE[0], channels: 3 } }).jpeg({ quality: 60 }).toBuffer();
  const { data: re } = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
  await writePng(path.join(data, 'benign', 'benign (6).png'), { data: new Uint8Array(re), height: SIZE[0], width: SIZE[1], channels: 3 });
  await writePng(path.join(data, 'benign', 'benign (6)_mask.png'), b2.mask);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY = ['--encoder', 'slim-resnet', '--decoder-channels', '16,16,8,8,8', '--size', '32', '--epochs', '1', '--batch-size', '4', '--backend', 'wasm', '--quiet', '--no-report'];

test('busi train groups near-duplicates by default, records the group ids, and opts out with --no-group-duplicates', async () => {
  const run = path.join(tmp, 'grouped');
  const r = await cli(['train', '--data', data, '-o', run, ...TINY, '--seed', '3'], tmp);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/2 groups of near-duplicates .*1 cross-class group/);
  const split = readJson(path.join(run, 'split.json'));
  expect(split).toMatchObject({ groupDuplicates: true, duplicates: 'near' });
  expect(split.groups).toEqual({ 'benign (1)': 'benign (1)', 'malignant (6)': 'benign (1)', 'benign (2)': 'benign (2)', 'benign (6)': 'benign (2)' });
  const f = split.folds[0];
  const partOf = (id: string) => ['train', 'validation', 'test'].filter((p) => f[p].includes(id));
  expect(partOf('benign (1)')).toEqual(partOf('malignant (6)'));
  expect(partOf('benign (2)')).toEqual(partOf('benign (6)'));
  expect(f.train.length + f.validation.length + f.test.length).toBe(17);

  const open = path.join(tmp, 'ungrouped');
  const u = await cli(['train', '--data', data, '-o', open, ...TINY, '--seed', '3', '--no-group-duplicates'], tmp);
  expect(u.code).toBe(0);
  const loose = readJson(path.join(open, 'split.json'));
  expect(loose.groupDuplicates).toBe(false);
  expect(loose.groups).toBeUndefined();

  const bad = await cli(['train', '--data', data, '-o', path.join(tmp, 'x'), ...TINY, '--no-group-duplicates', '--exclude-cross-class'], tmp);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--exclude-cross-class needs the duplicate groups/);
});

test('--exclude-cross-class leaves out the images of a cross-class group and says so', async () => {
  const run = path.join(tmp, 'excluded');
  const r = await cli(['train', '--data', data, '-o', run, ...TINY, '--exclude-cross-class', '--test-fraction', '0', '--val-fraction', '0.3'], tmp);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/2 images of cross-class groups left out/);
  const split = readJson(path.join(run, 'split.json'));
  expect(split.excluded).toEqual(['benign (1)', 'malignant (6)']);
  // two-way (validation = test part) with --test-fraction 0
  expect(split.folds[0].validation).toBeUndefined();
  expect(split.folds[0].train.length + split.folds[0].test.length).toBe(15);
});

test('busi duplicates prints the groups, the cross-class group and writes the JSON report', async () => {
  const json = path.join(tmp, 'dups.json');
  const r = await cli(['duplicates', '--data', data, '--json', json], tmp);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/17 images: 2 groups of near-duplicates \(2 of 2\), 4 images in groups, 2 redundant copies/);
  expect(r.out).toMatch(/! benign \(1\) \[benign\], malignant \(6\) \[malignant\]/);
  // malignant (6) has an empty mask where benign (1) has a lesion
  expect(r.out).toMatch(/~ benign \(1\) \/ malignant \(6\): mask Dice 0\.00/);
  const report = readJson(json);
  expect(report.crossClass).toEqual(['benign (1)']);
  expect(report.groups.map((g: { ids: string[] }) => g.ids)).toEqual([['benign (1)', 'malignant (6)'], ['benign (2)', 'benign (6)']]);
  const bad = await cli(['duplicates'], tmp);
  expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--data <BUSI folder> is required')]);
});
