import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem, registerFileSystemRouter } from '../src/io/file-system';
import { readPng, writePng, decodeImage, toUint8 } from '../src/io/png';
import { renderOverlay, hstack, contour } from '../src/io/overlay';

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-io-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tinyModel(seed: number): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [tfl.layers.dense({ units: 3, inputShape: [4], kernelInitializer: tfl.initializers.randomNormal({ seed }) })],
  });
  m.setUserDefinedMetadata({ busi: { note: 'x' } });
  return m;
}

describe('fileSystem IO handler', () => {
  test('round-trips a model, refuses to overwrite without force, replaces atomically with force', async () => {
    const dir = path.join(tmp, 'models', 'a');
    const m1 = tinyModel(1);
    await m1.save(fileSystem(dir));
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tfl.loadLayersModel(fileSystem(dir));
    const x = tf.ones([1, 4]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m1.predict(x) as tf.Tensor).dataSync()));
    expect(loaded.getUserDefinedMetadata()).toEqual({ busi: { note: 'x' } });

    const m2 = tinyModel(2);
    await expect(m2.save(fileSystem(dir))).rejects.toThrow(/already exists.*force/);
    const still = await tfl.loadLayersModel(fileSystem(dir));
    expect(Array.from((still.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m1.predict(x) as tf.Tensor).dataSync()));

    await m2.save(fileSystem(dir, { force: true }));
    const replaced = await tfl.loadLayersModel(fileSystem(dir));
    expect(Array.from((replaced.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m2.predict(x) as tf.Tensor).dataSync()));
    // No temporary or backup folders are left beside the model.
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['a']);
  });

  test('load errors name the folder: missing model, truncated weights', async () => {
    await expect(tfl.loadLayersModel(fileSystem(path.join(tmp, 'nope')))).rejects.toThrow(/nope.*model\.json' not found/);
    const dir = path.join(tmp, 'trunc');
    await tinyModel(3).save(fileSystem(dir));
    const w = path.join(dir, 'weights.bin');
    fs.writeFileSync(w, fs.readFileSync(w).subarray(0, 20));
    await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(/weights\.bin hold 20 bytes.*describe 60/);
  });

  test('file:// router', async () => {
    registerFileSystemRouter();
    const dir = path.join(tmp, 'routed');
    await tinyModel(4).save(`file://${dir}`);
    const m = await tfl.loadLayersModel(`file://${dir}`);
    expect(m.layers.length).toBe(1);
  });
});

describe('PNG IO', () => {
  const h = 6;
  const w = 5;
  const gray = Uint8Array.from({ length: h * w }, (_, i) => i * 8);

  test('gray, RGB, RGBA and 1-bit files read back exactly, with channel conversion', async () => {
    await writePng(path.join(tmp, 'g.png'), { data: gray, height: h, width: w, channels: 1 });
    const g = await readPng(path.join(tmp, 'g.png'));
    expect(g.channels).toBe(1);
    expect(Array.from(g.data)).toEqual(Array.from(gray));
    const g3 = await readPng(path.join(tmp, 'g.png'), { channels: 3 });
    expect(Array.from(g3.data.subarray(0, 6))).toEqual([0, 0, 0, 8, 8, 8]);

    const rgb = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 7) % 256);
    await writePng(path.join(tmp, 'c.png'), { data: rgb, height: h, width: w, channels: 3 });
    const c = await readPng(path.join(tmp, 'c.png'));
    expect(c.channels).toBe(3);
    expect(Array.from(c.data)).toEqual(Array.from(rgb));
    const c1 = await readPng(path.join(tmp, 'c.png'), { channels: 1 });
    expect(c1.data[1]).toBe(Math.round((rgb[3] + rgb[4] + rgb[5]) / 3));

    const rgba = Uint8Array.from({ length: h * w * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 5) % 256));
    await writePng(path.join(tmp, 'a.png'), { data: rgba, height: h, width: w, channels: 4 });
    const a = await readPng(path.join(tmp, 'a.png'));
    expect(a.channels).toBe(4);
    const a3 = await readPng(path.join(tmp, 'a.png'), { channels: 3 });
    expect(Array.from(a3.data.subarray(0, 6))).toEqual([rgba[0], rgba[1], rgba[2], rgba[4], rgba[5], rgba[6]]);

    const bits = gray.map((v) => (v > 100 ? 1 : 0));
    await writePng(path.join(tmp, 'm.png'), { data: bits, height: h, width: w, channels: 1 }, { oneBit: true });
    const m = await readPng(path.join(tmp, 'm.png'));
    expect(Array.from(m.data)).toEqual(Array.from(bits).map((b) => b * 255));
  });

  test('nearest resize keeps a mask binary; bilinear resize changes the size', async () => {
    const m = await readPng(path.join(tmp, 'm.png'), { resize: [13, 11], interpolation: 'nearest' });
    expect([m.height, m.width, m.channels]).toEqual([13, 11, 1]);
    expect(m.data.every((v) => v === 0 || v === 255)).toBe(true);
    const c = await readPng(path.join(tmp, 'c.png'), { resize: [3, 4] });
    expect([c.height, c.width, c.channels]).toEqual([3, 4, 3]);
  });

  test('missing, empty, corrupt and truncated files give errors naming the file', async () => {
    await expect(decodeImage(path.join(tmp, 'none.png'))).rejects.toThrow(/not found: .*none\.png/);
    fs.writeFileSync(path.join(tmp, 'empty.png'), '');
    await expect(decodeImage(path.join(tmp, 'empty.png'))).rejects.toThrow(/empty\.png.*empty/);
    fs.writeFileSync(path.join(tmp, 'junk.png'), 'not a png at all');
    await expect(decodeImage(path.join(tmp, 'junk.png'))).rejects.toThrow(/corrupt.*junk\.png/);
    const big = Uint8Array.from({ length: 64 * 64 }, (_, i) => (i * 31) % 251);
    await writePng(path.join(tmp, 'big.png'), { data: big, height: 64, width: 64, channels: 1 });
    const bytes = fs.readFileSync(path.join(tmp, 'big.png'));
    fs.writeFileSync(path.join(tmp, 'cut.png'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(decodeImage(path.join(tmp, 'cut.png'))).rejects.toThrow(/truncated.*cut\.png/);
  });

  test('toUint8 scales and clamps', () => {
    expect(Array.from(toUint8([-1, 0, 0.5, 1, 2]))).toEqual([0, 0, 128, 255, 255]);
  });
});

describe('overlay', () => {
  test('fills and outlines the mask, draws the ground truth in its own colour', () => {
    const h = 8;
    const w = 8;
    const img = { data: new Uint8Array(h * w).fill(100), height: h, width: w, channels: 1 };
    const mask = new Float32Array(h * w);
    for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) mask[y * w + x] = 0.9;
    const gt = new Float32Array(h * w);
    gt[0] = 1;
    const o = renderOverlay(img, mask, { fillAlpha: 0.5, color: [200, 0, 0], groundTruth: gt, groundTruthColor: [0, 0, 255] });
    expect(o.channels).toBe(3);
    const px = (y: number, x: number) => Array.from(o.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
    expect(px(2, 2)).toEqual([200, 0, 0]); // outline
    expect(px(3, 3)).toEqual([150, 50, 50]); // fill: half image, half colour
    expect(px(7, 7)).toEqual([100, 100, 100]); // untouched
    expect(px(0, 0)).toEqual([0, 0, 255]); // ground truth outline
    expect(() => renderOverlay(img, new Float32Array(3))).toThrow(/mask has 3 values/);
    expect(contour(Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1]), 3, 3).reduce((a, b) => a + b, 0)).toBe(8);
    const s = hstack([o, img], 2);
    expect([s.height, s.width]).toEqual([8, 18]);
  });
});
