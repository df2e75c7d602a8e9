import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { syntheticSample } from '@busi/core';
import { writePng, type RawImage } from '../src/io/png';
import { fingerprint, hammingDistance, verifyPair } from '../src/fingerprint';
import { connectedGroups, detectNearDuplicates } from '../src/near-duplicates';
import { findNearDuplicates, formatNearDuplicateReport } from '../src/busi-duplicates';
import { readBusiFolder } from '../src/busi';

const SIZE: [number, number] = [180, 240];

/** An ultrasound-like picture (speckle, layers, a lesion) from the synthetic generator, as 8-bit RGB, with its mask. */
function picture(seed: number, label = 0): { image: RawImage; mask: RawImage } {
  const s = syntheticSample({ size: SIZE, label, seed, channels: 3 });
  return {
    image: { data: Uint8Array.from(s.image, (v) => Math.round(v * 255)), height: SIZE[0], width: SIZE[1], channels: 3 },
    mask: { data: Uint8Array.from(s.mask, (v) => (v ? 255 : 0)), height: SIZE[0], width: SIZE[1], channels: 1 },
  };
}
async function viaSharp(img: RawImage, f: (s: ReturnType<typeof sharp>) => ReturnType<typeof sharp>, reread = false): Promise<RawImage> {
  let s = f(sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 } }));
  if (reread) s = sharp(await s.toBuffer());
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), height: info.height, width: info.width, channels: info.channels };
}
const resized = (img: RawImage) => viaSharp(img, (s) => s.resize(150, 110));
const jpeg = (img: RawImage) => viaSharp(img, (s) => s.jpeg({ quality: 50 }), true);
const cropped = (img: RawImage) => viaSharp(img, (s) => s.extract({ top: 9, left: 5, height: img.height - 9 - 4, width: img.width - 5 - 12 }));
function marked(img: RawImage): RawImage {
  const data = Uint8Array.from(img.data);
  for (const [y, x] of [[60, 80], [120, 170]]) {
    for (let d = -5; d <= 5; d++) for (const [v, u] of [[y + d, x], [y, x + d]]) data.fill(255, (v * img.width + u) * 3, (v * img.width + u) * 3 + 3);
  }
  return { ...img, data };
}

test('copies (resized, JPEG, cropped 2–5 %, marked) verify near 1; other pictures far below the threshold', async () => {
  const { image } = picture(11);
  const a = fingerprint(image);
  for (const copy of [await resized(image), await jpeg(image), await cropped(image), marked(image)]) {
    const b = fingerprint(copy);
    expect(hammingDistance(a.hash, b.hash)).toBeLessThanOrEqual(22);
    expect(verifyPair(a, b).similarity).toBeGreaterThan(0.85);
  }
  const crop = verifyPair(a, fingerprint(await cropped(image))).alignment;
  // 9 of 180 rows and 5 of 240 columns were cut at the top and left: B starts about there inside A
  expect(crop.offsetY).toBeCloseTo(9 / 180, 1);
  expect(crop.scaleY).toBeCloseTo(167 / 180, 1);
  for (const other of [12, 13, 14]) expect(verifyPair(a, fingerprint(picture(other).image)).similarity).toBeLessThan(0.5);
  expect(verifyPair(a, a).similarity).toBeCloseTo(1, 6);
});

test('detectNearDuplicates groups copies of copies; connectedGroups joins chains', async () => {
  const x = picture(21).image;
  const y = picture(22).image;
  const fps = [x, await resized(x), y, marked(await resized(x)), picture(23).image].map(fingerprint);
  const found = detectNearDuplicates(fps);
  expect(found.groups).toEqual([[0, 1, 3]]);
  expect(found.pairs.every((p) => p.similarity >= 0.75)).toBe(true);
  expect(connectedGroups(5, [{ a: 0, b: 4 }, { a: 4, b: 2 }])).toEqual([[0, 2, 4]]);
});

test('findNearDuplicates on a BUSI-layout folder: cross-class group, disagreeing masks, split groups', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-neardup-'));
  try {
    const put = (file: string, img: RawImage) => writePng(path.join(root, file), img);
    const a = picture(31, 0);
    const b = picture(32, 1);
    const c = picture(33, 2);
    await put('benign/benign (1).png', a.image);
    await put('benign/benign (1)_mask.png', a.mask);
    // the same picture, resized and marked, filed as malignant with a mask elsewhere
    await put('malignant/malignant (1).png', marked(await resized(a.image)));
    const shifted = { ...a.mask, data: new Uint8Array(a.mask.data.length) };
    shifted.data.fill(255, 0, 40 * SIZE[1]);
    await put('malignant/malignant (1)_mask.png', await viaSharp(shifted, (s) => s.resize(150, 110)));
    await put('malignant/malignant (2).png', b.image);
    await put('malignant/malignant (2)_mask.png', b.mask);
    await put('normal/normal (1).png', c.image);
    await put('normal/normal (1)_mask.png', c.mask);
    const r = await findNearDuplicates(readBusiFolder(root));
    expect(r.groups.map((g) => g.ids)).toEqual([['benign (1)', 'malignant (1)']]);
    expect(r.crossClass).toEqual(['benign (1)']);
    expect(r.groupOf).toEqual(['benign (1)', 'benign (1)', 'malignant (2)', 'normal (1)']);
    expect(r.maskDisagreements).toHaveLength(1);
    expect(r.maskDisagreements[0].maskDice).toBeLessThan(0.5);
    expect(r.redundantImages).toBe(1);
    const text = formatNearDuplicateReport(r);
    expect(text).toMatch(/4 images: 1 group of near-duplicates \(1 of 2\)/);
    expect(text).toMatch(/! benign \(1\) \[benign\], malignant \(1\) \[malignant\]/);
    expect(text).toMatch(/~ benign \(1\) \/ malignant \(1\): mask Dice 0\.\d\d/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
