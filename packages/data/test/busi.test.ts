import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { writePng } from '../src/io/png';
import { readBusiFolder, decodeBusiEntry, findDuplicates, formatDuplicateReport, hashImage, IMAGENET_NORMALIZATION } from '../src/busi';
import { BusiDataset } from '../src/dataset';

const H = 12;
const W = 16;
let tmp: string;
let root: string;

/** A deterministic gray picture; `seed` changes it. */
function picture(seed: number, channels: 1 | 3 = 1): Uint8Array {
  const out = new Uint8Array(H * W * channels);
  for (let i = 0; i < H * W; i++) for (let k = 0; k < channels; k++) out[i * channels + k] = (i * 7 + seed * 31) % 256;
  return out;
}
/** A mask with the rectangle [y0,y1)x[x0,x1) set to 255, in `channels` channels (4: opaque alpha). */
function rect(y0: number, y1: number, x0: number, x1: number, channels = 1): Uint8Array {
  const out = new Uint8Array(H * W * channels);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const on = y >= y0 && y < y1 && x >= x0 && x < x1 ? 255 : 0;
      for (let k = 0; k < channels; k++) out[(y * W + x) * channels + k] = channels === 4 && k === 3 ? 255 : on;
    }
  return out;
}

async function png(file: string, data: Uint8Array, channels: number, oneBit = false): Promise<void> {
  await writePng(path.join(root, file), { data, height: H, width: W, channels }, { oneBit });
}

/** A BUSI-layout folder with the real dataset's quirks: gray and RGB images, 1-bit/RGB/RGBA masks, extra masks, a cross-class duplicate. */
async function makeFolder(): Promise<void> {
  for (let n = 1; n <= 4; n++) await png(`benign/benign (${n}).png`, picture(n), 1);
  await png('benign/benign (10).png', picture(10, 3), 3); // an RGB file
  for (const n of [1, 2, 3, 4, 10]) await png(`benign/benign (${n})_mask.png`, rect(2, 6, 3, 8).map((v) => (v ? 1 : 0)), 1, true);
  await png('benign/benign (2)_mask_1.png', rect(8, 10, 10, 14, 4), 4); // RGBA second lesion
  await png('benign/benign (2)_mask_2.png', rect(0, 1, 0, 1), 1);
  for (let n = 1; n <= 3; n++) await png(`malignant/malignant (${n}).png`, picture(20 + n), 1);
  // malignant (3) is benign (4) stored as RGB: the same decoded pixels under another label.
  const dup = new Uint8Array(H * W * 3);
  picture(4).forEach((v, i) => dup.fill(v, i * 3, i * 3 + 3));
  fs.rmSync(path.join(root, 'malignant/malignant (3).png'));
  await png('malignant/malignant (3).png', dup, 3);
  for (let n = 1; n <= 3; n++) await png(`malignant/malignant (${n})_mask.png`, rect(1, 9, 1, 9), 1);
  for (let n = 1; n <= 3; n++) {
    await png(`normal/normal (${n}).png`, picture(40 + n), 1);
    await png(`normal/normal (${n})_mask.png`, new Uint8Array(H * W * 3), 3); // empty RGB mask
  }
  fs.writeFileSync(path.join(root, 'normal/.DS_Store'), 'junk');
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-data-'));
  root = path.join(tmp, 'Dataset_BUSI_with_GT');
  await makeFolder();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('readBusiFolder', () => {
  test('lists images with their masks in natural order; accepts the parent folder', () => {
    const idx = readBusiFolder(tmp);
    expect(idx.root).toBe(root);
    expect(idx.entries.map((e) => e.id)).toEqual([
      'benign (1)', 'benign (2)', 'benign (3)', 'benign (4)', 'benign (10)',
      'malignant (1)', 'malignant (2)', 'malignant (3)', 'normal (1)', 'normal (2)', 'normal (3)',
    ]);
    expect(idx.entries.map((e) => e.label)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(idx.entries[1].maskPaths.map((p) => path.basename(p))).toEqual(['benign (2)_mask.png', 'benign (2)_mask_1.png', 'benign (2)_mask_2.png']);
  });

  test('clear errors for wrong layout, missing mask, orphan mask', () => {
    const bad = fs.mkdtempSync(path.join(tmp, 'bad-'));
    expect(() => readBusiFolder(path.join(bad, 'nothing'))).toThrow(/not found/);
    expect(() => readBusiFolder(bad)).toThrow(/wrong layout: no 'benign\/' folder/);
    fs.mkdirSync(path.join(bad, 'benign'));
    expect(() => readBusiFolder(bad, { classes: ['benign'] })).toThrow(/no '<name>\.png' images/);
    fs.copyFileSync(path.join(root, 'benign/benign (1).png'), path.join(bad, 'benign/benign (1).png'));
    expect(() => readBusiFolder(bad, { classes: ['benign'] })).toThrow(/missing mask for '.*benign \(1\)\.png'/);
    fs.copyFileSync(path.join(root, 'benign/benign (1)_mask.png'), path.join(bad, 'benign/benign (1)_mask.png'));
    fs.copyFileSync(path.join(root, 'benign/benign (1)_mask.png'), path.join(bad, 'benign/benign (7)_mask.png'));
    expect(() => readBusiFolder(bad, { classes: ['benign'] })).toThrow(/mask without an image: '.*benign \(7\)_mask\.png'/);
  });
});

describe('decodeBusiEntry', () => {
  test('merges every mask by OR across 1-bit, RGBA and gray files; normal masks are empty', async () => {
    const idx = readBusiFolder(root);
    const d = await decodeBusiEntry(idx.entries[1]);
    const expected = new Uint8Array(H * W);
    [rect(2, 6, 3, 8), rect(8, 10, 10, 14), rect(0, 1, 0, 1)].forEach((m) => m.forEach((v, i) => v && (expected[i] = 1)));
    expect(Buffer.from(d.mask).equals(Buffer.from(expected))).toBe(true);
    expect(d.image.channels).toBe(3);
    const n = await decodeBusiEntry(idx.entries[9], { channels: 1 });
    expect(n.mask.every((v) => v === 0)).toBe(true);
    expect(n.image.channels).toBe(1);
    expect(Array.from(n.image.data.subarray(0, 3))).toEqual(Array.from(picture(42).subarray(0, 3)));
    const r = await decodeBusiEntry(idx.entries[1], { size: [24, 32] });
    expect([r.image.height, r.image.width]).toEqual([24, 32]);
    expect(r.mask.length).toBe(24 * 32);
    expect(r.mask.every((v) => v === 0 || v === 1)).toBe(true);
    expect(r.mask.reduce((a, b) => a + b, 0)).toBe(4 * expected.reduce((a, b) => a + b, 0));
  });

  test('errors name the file: mask size mismatch, corrupt and truncated PNGs', async () => {
    const idx = readBusiFolder(root);
    const e = idx.entries[0];
    const small = path.join(tmp, 'small_mask.png');
    await writePng(small, { data: new Uint8Array(4 * 4), height: 4, width: 4, channels: 1 });
    await expect(decodeBusiEntry({ ...e, maskPaths: [small] })).rejects.toThrow(/mask size 4x4 of '.*small_mask\.png' differs from its image's 16x12/);
    const junk = path.join(tmp, 'junk.png');
    fs.writeFileSync(junk, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expect(decodeBusiEntry({ ...e, imagePath: junk })).rejects.toThrow(/corrupt or truncated image '.*junk\.png'/);
  });
});

describe('BusiDataset', () => {
  test('batches are normalised tensors; memory cache decodes each sample once; no tensor leak', async () => {
    const ds = BusiDataset.fromFolder(root, { size: 8 });
    expect(ds.size).toBe(11);
    expect(ds.labels).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
    const before = tf.memory().numTensors;
    const b = await ds.getBatch([9, 1]);
    expect(b.images.shape).toEqual([2, 8, 8, 3]);
    expect(b.masks.shape).toEqual([2, 8, 8, 1]);
    expect(Array.from(b.labels.dataSync())).toEqual([2, 0]);
    const raw = await ds.raw(9);
    const px = b.images.dataSync();
    for (let k = 0; k < 3; k++) {
      expect(px[k]).toBeCloseTo((raw.image[k] / 255 - IMAGENET_NORMALIZATION.mean[k]) / IMAGENET_NORMALIZATION.std[k], 5);
    }
    expect(b.masks.dataSync().slice(0, 64).every((v) => v === 0)).toBe(true);
    tf.dispose([b.images, b.masks, b.labels]);
    expect(tf.memory().numTensors).toBe(before);
    expect(ds.stats.decoded).toBe(2);
    const sub = ds.subset([1, 9]);
    const again = await sub.getBatch([0, 1]);
    tf.dispose([again.images, again.masks, again.labels]);
    expect(sub.stats).toEqual({ decoded: 0, cacheHits: 2 });
    expect(() => ds.subset([11])).toThrow(/out of range/);
  });

  test('on-disk cache is reused by a fresh dataset and survives a damaged cache file', async () => {
    const dir = path.join(tmp, 'cache');
    const a = BusiDataset.fromFolder(root, { size: [8, 12], channels: 1, normalization: 'unit', cache: { dir } });
    const sa = await a.sample(5);
    expect(a.stats.decoded).toBe(1);
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    const b = BusiDataset.fromFolder(root, { size: [8, 12], channels: 1, normalization: 'unit', cache: { dir } });
    const sb = await b.sample(5);
    expect(b.stats).toEqual({ decoded: 0, cacheHits: 1 });
    expect(Buffer.from(sb.image.buffer).equals(Buffer.from(sa.image.buffer))).toBe(true);
    expect(sa.image.every((v) => v >= 0 && v <= 1)).toBe(true);
    fs.writeFileSync(path.join(dir, files[0]), 'broken');
    const c = BusiDataset.fromFolder(root, { size: [8, 12], channels: 1, normalization: 'unit', cache: { dir } });
    await c.sample(5);
    expect(c.stats.decoded).toBe(1);
  });
});

describe('duplicates', () => {
  test('identical pixels are found across encodings and classes', async () => {
    const idx = readBusiFolder(root);
    const rep = await findDuplicates(idx);
    expect(rep.groups).toEqual([
      { hash: expect.any(String), ids: ['benign (4)', 'malignant (3)'], classes: ['benign', 'malignant'], crossClass: true },
    ]);
    expect(rep.redundantImages).toBe(1);
    expect(formatDuplicateReport(rep)).toMatch(/^11 images, 1 group of identical images, 1 redundant copy\n1 group with conflicting labels:\n\s+! benign \(4\), malignant \(3\)/);
  });
});

// A small slice of the real dataset, when this checkout sits beside the shared data.
const repoRoot = path.resolve(__dirname, '../../..');
const realBusi = path.resolve(repoRoot, '../shared/busi');
const describeReal = fs.existsSync(realBusi) ? describe : describe.skip;
if (!fs.existsSync(realBusi)) console.log(`real BUSI tests skipped: ${realBusi} not found`);

describeReal('real BUSI (slice)', () => {
  test('listing matches the documented counts; quirky files decode and merge', async () => {
    const idx = readBusiFolder(realBusi);
    const perClass = (c: string) => idx.entries.filter((e) => e.className === c).length;
    expect([perClass('benign'), perClass('malignant'), perClass('normal')]).toEqual([437, 210, 133]);
    expect(idx.entries.reduce((n, e) => n + e.maskPaths.length, 0)).toBe(454 + 211 + 133);
    const byId = new Map(idx.entries.map((e) => [e.id, e]));
    expect(byId.get('benign (195)')!.maskPaths).toHaveLength(3);

    const merged = await decodeBusiEntry(byId.get('benign (195)')!);
    const single = await decodeBusiEntry({ ...byId.get('benign (195)')!, maskPaths: byId.get('benign (195)')!.maskPaths.slice(0, 1) });
    const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
    expect(count(merged.mask)).toBeGreaterThan(count(single.mask));

    const rgba = await decodeBusiEntry(byId.get('benign (4)')!, { size: 64 });
    expect(rgba.image.data.length).toBe(64 * 64 * 3);
    expect(count(rgba.mask)).toBeGreaterThan(0);
    const normal = await decodeBusiEntry(byId.get('normal (1)')!);
    expect(count(normal.mask)).toBe(0);

    expect(await hashImage(byId.get('benign (433)')!.imagePath)).toBe(await hashImage(byId.get('malignant (145)')!.imagePath));
    expect(await hashImage(byId.get('benign (1)')!.imagePath)).not.toBe(await hashImage(byId.get('benign (2)')!.imagePath));

    // The lazy dataset on a few real files: mixed gray/RGB images and 1-bit/RGB/RGBA masks become one layout.
    const ds = new BusiDataset(['benign (4)', 'benign (195)', 'normal (1)', 'malignant (145)'].map((id) => byId.get(id)!), idx.classNames, { size: 64 });
    const before = tf.memory().numTensors;
    const b = await ds.getBatch([0, 1, 2, 3]);
    expect(b.images.shape).toEqual([4, 64, 64, 3]);
    expect(Array.from(b.labels.dataSync())).toEqual([0, 0, 2, 1]);
    const area = tf.tidy(() => Array.from(tf.sum(b.masks, [1, 2, 3]).dataSync()));
    expect(area[0]).toBeGreaterThan(0);
    expect(area[2]).toBe(0);
    tf.dispose([b.images, b.masks, b.labels]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('splitBusi', () => {
  test('groups near-duplicates by default (the shifted test ramps are copies of each other), records the groups, keeps each group on one side', async () => {
    const { splitBusi } = await import('../src/busi-split');
    const idx = readBusiFolder(root);
    const ids = idx.entries.map((e) => e.id);
    for (let seed = 0; seed < 2; seed++) {
      const { parts, file, duplicates } = await splitBusi(idx, { seed, trainFraction: 0.6 });
      expect(file).toMatchObject({ groupDuplicates: true, duplicates: 'near' });
      expect(file.groups!['malignant (3)']).toBe('benign (4)');
      const side = (id: string) => (parts[0].test.includes(ids.indexOf(id)) ? 'test' : 'train');
      for (const g of duplicates!.groups) expect(new Set(g.ids.map(side)).size).toBe(1);
    }
    // identical pixels only: the one re-encoded copy
    const exact = await splitBusi(idx, { seed: 1, trainFraction: 0.6, duplicates: 'exact' });
    expect(exact.duplicates!.groups).toHaveLength(1);
    expect(exact.file.groups).toEqual({ 'benign (4)': exact.file.groups!['benign (4)'], 'malignant (3)': exact.file.groups!['benign (4)'] });
    // cross-class groups left out on request; three-way parts
    const three = await splitBusi(idx, { seed: 1, duplicates: 'exact', excludeCrossClass: true, valFraction: 0.25, testFraction: 0.25 });
    expect(three.file.excluded).toEqual(['benign (4)', 'malignant (3)']);
    const p = three.parts[0];
    expect(p.train.length + p.validation!.length + p.test.length).toBe(ids.length - 2);
    const k = await splitBusi(idx, { kind: 'kfold', k: 3, groupDuplicates: false });
    expect(k.file.folds).toHaveLength(3);
    expect(k.file.groupDuplicates).toBe(false);
    expect(k.duplicates).toBeNull();
  });
});
