import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, generateSynthetic, mixSeed } from '@busi/core';
import { SampleDataset, augmentSample, resolveAugment, type SampleSource } from '../src/augment';

const none = { hflip: 0, rotate: 0, scale: 0, translate: 0, brightness: 0, contrast: 0, speckle: 0 };
const set = generateSynthetic({ size: 32, count: 6, seed: 5, classBalance: [1, 1, 0] });
const plane = 32 * 32;
const sample = (i: number) => ({ image: set.images.slice(i * plane * 3, (i + 1) * plane * 3), mask: set.masks.slice(i * plane, (i + 1) * plane) });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('training augmentation', () => {
  test('is fixed by the seed and varies with it', () => {
    const opts = resolveAugment();
    const run = (seed: number) => {
      const s = sample(0);
      augmentSample(s.image, s.mask, 32, 32, 3, new Rng(seed), opts);
      return s;
    };
    expect(run(1)).toEqual(run(1));
    expect(Array.from(run(2).image)).not.toEqual(Array.from(run(1).image));
    expect(mixSeed(1, 0, 3)).toBe(mixSeed(1, 0, 3));
    expect(new Set([mixSeed(1, 0, 3), mixSeed(1, 1, 3), mixSeed(1, 0, 4), mixSeed(2, 0, 3), mixSeed(1, 3, 0)]).size).toBe(5);
  });

  test('a flip mirrors image and mask exactly; photometric changes leave the mask alone', () => {
    const s = sample(1);
    const ref = sample(1);
    augmentSample(s.image, s.mask, 32, 32, 3, new Rng(0), { ...none, hflip: 1 });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        expect(s.mask[y * 32 + x]).toBe(ref.mask[y * 32 + 31 - x]);
        expect(s.image[(y * 32 + x) * 3]).toBeCloseTo(ref.image[(y * 32 + 31 - x) * 3], 6);
      }
    }
    const p = sample(1);
    augmentSample(p.image, p.mask, 32, 32, 3, new Rng(3), { ...none, brightness: 0.2, contrast: 0.3, speckle: 0.2 });
    expect(p.mask).toEqual(ref.mask);
    expect(Array.from(p.image)).not.toEqual(Array.from(ref.image));
    expect(p.image.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  test('the affine part moves image and mask together', () => {
    // An image equal to its mask: after warping, the thresholded image must match the warped mask.
    for (const seed of [1, 2, 3, 4]) {
      const mask = sample(0).mask;
      const image = new Float32Array(plane * 3).map((_, i) => mask[Math.floor(i / 3)]);
      augmentSample(image, mask, 32, 32, 3, new Rng(seed), { ...none, rotate: 15, scale: 0.15, translate: 0.1 });
      expect(mask.every((v) => v === 0 || v === 1)).toBe(true);
      let agree = 0;
      for (let p = 0; p < plane; p++) if ((image[p * 3] >= 0.5 ? 1 : 0) === mask[p]) agree++;
      expect(agree / plane).toBeGreaterThan(0.97);
    }
  });

  test('SampleDataset: training batches are augmented per (epoch, sample), validation batches only normalised', async () => {
    const source: SampleSource = { size: 6, height: 32, width: 32, channels: 3, get: async (i) => ({ ...sample(i), label: set.labels[i] }) };
    const norm = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const ds = new SampleDataset(source, { normalization: norm, augment: resolveAugment(), seed: 9 }, [4, 2, 0]);
    const get = async (idx: number[], training: boolean, epoch: number) => {
      const b = await ds.getBatch(idx, { training, epoch });
      const out = { images: Array.from(await b.images.data()), masks: Array.from(await b.masks.data()), labels: Array.from(await b.labels.data()) };
      tf.dispose([b.images, b.masks, b.labels]);
      return out;
    };
    const val = await get([1], false, 0);
    expect(val.images).toEqual(Array.from(sample(2).image, (v) => Math.fround((v - 0.5) / 0.25)));
    expect(val.labels).toEqual([set.labels[2]]);
    const e0 = await get([0, 1], true, 0);
    // Independent of batch composition: sample 2 alone equals its row in a batch.
    const alone = await get([1], true, 0);
    expect(alone.images).toEqual(e0.images.slice(plane * 3));
    expect((await get([0, 1], true, 1)).images).not.toEqual(e0.images);
  });
});
