import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { generateSynthetic, syntheticSample, syntheticToTensors } from '../../src/data/synthetic';
import { BUSI_CLASSES } from '../../src/data/busi-classes';

const SIZE = 64;

// Byte comparison: jest's deep equality is very slow on large typed arrays.
function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function meanWhere(img: Float32Array, sel: (i: number) => boolean, n: number): number {
  let s = 0;
  let k = 0;
  for (let i = 0; i < n; i++) if (sel(i)) (s += img[i], k++);
  return k ? s / k : NaN;
}

/** Pixels within `d` (Chebyshev) of the mask but outside it. */
function ring(mask: Float32Array, h: number, w: number, d: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]) continue;
      search: for (let dy = -d; dy <= d; dy++)
        for (let dx = -d; dx <= d; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w && mask[yy * w + xx]) {
            out[y * w + x] = 1;
            break search;
          }
        }
    }
  return out;
}

/** Boundary pixels squared over area: 4*pi-ish for a disc, larger for spiculated shapes. */
function compactness(mask: Float32Array, h: number, w: number): number {
  let area = 0;
  let edge = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      area++;
      const nb = [mask[(y - 1) * w + x], mask[(y + 1) * w + x], mask[y * w + x - 1], mask[y * w + x + 1]];
      if (y === 0 || y === h - 1 || x === 0 || x === w - 1 || nb.some((v) => !v)) edge++;
    }
  return (edge * edge) / area;
}

describe('generateSynthetic', () => {
  const set = generateSynthetic({ size: SIZE, count: 30, seed: 7, channels: 1 });
  const plane = SIZE * SIZE;

  test('is deterministic per seed and differs across seeds', () => {
    const again = generateSynthetic({ size: SIZE, count: 30, seed: 7, channels: 1 });
    expect(same(again.images, set.images)).toBe(true);
    expect(same(again.masks, set.masks)).toBe(true);
    expect(again.labels).toEqual(set.labels);
    const other = generateSynthetic({ size: SIZE, count: 30, seed: 8, channels: 1 });
    expect(same(other.images, set.images)).toBe(false);
  });

  test('class counts follow the balance exactly, values lie in [0, 1], masks are binary', () => {
    const s = generateSynthetic({ size: 16, count: 10, seed: 1, classBalance: [1, 1, 2] });
    const counts = [0, 0, 0];
    s.labels.forEach((l) => counts[l]++);
    expect(counts.sort()).toEqual([2, 3, 5].sort());
    expect(counts[2]).toBe(5); // normal got half
    expect(s.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(s.masks.every((v) => v === 0 || v === 1)).toBe(true);
    expect(s.classNames).toEqual(BUSI_CLASSES);
    expect(() => generateSynthetic({ classBalance: [0, 0, 0] })).toThrow(/classBalance/);
    expect(() => generateSynthetic({ channels: 2 as 1 })).toThrow(/channels/);
  });

  test('mask agrees with label: normal empty, lesions non-empty, lesion darker than its surroundings', () => {
    for (let i = 0; i < set.count; i++) {
      const img = set.images.subarray(i * plane, (i + 1) * plane);
      const mask = set.masks.subarray(i * plane, (i + 1) * plane);
      const area = mask.reduce((a, b) => a + b, 0);
      if (set.labels[i] === 2) {
        expect(area).toBe(0);
        continue;
      }
      expect(area).toBeGreaterThan(20);
      const r = ring(mask, SIZE, SIZE, 4);
      const inside = meanWhere(img, (j) => mask[j] === 1, plane);
      const around = meanWhere(img, (j) => r[j] === 1, plane);
      expect(inside).toBeLessThan(0.7 * around);
    }
  });

  test('malignant outlines are less compact than benign ones', () => {
    const big = 96;
    const c = (label: number) => {
      let s = 0;
      for (let k = 0; k < 8; k++) s += compactness(syntheticSample({ size: big, label, seed: 100 + k }).mask, big, big);
      return s / 8;
    };
    expect(c(1)).toBeGreaterThan(1.3 * c(0));
  });

  test('three channels replicate the gray image; tensors have the documented shapes', () => {
    const s3 = generateSynthetic({ size: [16, 24], count: 4, seed: 3 });
    expect(s3.images.length).toBe(4 * 16 * 24 * 3);
    for (let i = 0; i < 16 * 24; i++) expect(s3.images[i * 3]).toBe(s3.images[i * 3 + 2]);
    const before = tf.memory().numTensors;
    const t = syntheticToTensors(s3, { indices: [2, 0], normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
    expect(t.images.shape).toEqual([2, 16, 24, 3]);
    expect(t.masks.shape).toEqual([2, 16, 24, 1]);
    expect(Array.from(t.labels.dataSync())).toEqual([s3.labels[2], s3.labels[0]]);
    expect(t.oneHot.shape).toEqual([2, 3]);
    expect(t.images.dataSync()[0]).toBeCloseTo((s3.images[2 * 16 * 24 * 3] - 0.5) / 0.25, 5);
    tf.dispose([t.images, t.masks, t.labels, t.oneHot]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
