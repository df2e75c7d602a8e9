import { distanceTransform, maskSurface, percentile, surfaceDistances } from '../../src/metrics/index';

function mask(h: number, w: number, on: (y: number, x: number) => boolean): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (on(y, x)) m[y * w + x] = 1;
  return m;
}

describe('surfaceDistances on shapes whose distances are known', () => {
  test('two single pixels 3 rows and 4 columns apart: every distance is 5; with 2 x 1 mm pixels sqrt(52)', () => {
    const t = mask(8, 8, (y, x) => y === 0 && x === 0);
    const p = mask(8, 8, (y, x) => y === 3 && x === 4);
    expect(surfaceDistances(t, p, 8, 8)).toEqual({ hd95: 5, hausdorff: 5, asd: 5, truthSurface: 1, predictionSurface: 1 });
    const mm = surfaceDistances(t, p, 8, 8, { spacing: [2, 1] });
    expect(mm.hd95).toBeCloseTo(Math.sqrt(52), 12);
    expect(mm.asd).toBeCloseTo(Math.sqrt(52), 12);
  });

  test('two parallel lines 3 columns apart: HD95 = ASD = 3', () => {
    const d = surfaceDistances(mask(10, 10, (_, x) => x === 2), mask(10, 10, (_, x) => x === 5), 10, 10);
    expect([d.hd95, d.hausdorff, d.asd]).toEqual([3, 3, 3]);
  });

  test('a line plus two outlying pixels: Hausdorff 10, HD95 9.5 (interpolated), ASD 20/42', () => {
    // pred→truth: 20 zeros and two 10s (22 values): the 95th percentile sits at 19.95 → 0 + 0.95·10.
    const t = mask(12, 20, (y) => y === 0);
    const p = mask(12, 20, (y, x) => y === 0 || (y === 10 && (x === 0 || x === 19)));
    const d = surfaceDistances(t, p, 12, 20);
    expect(d.hausdorff).toBe(10);
    expect(d.hd95).toBeCloseTo(9.5, 12);
    expect(d.asd).toBeCloseTo(20 / 42, 12);
    // symmetric: swapping the masks changes nothing
    expect(surfaceDistances(p, t, 12, 20)).toEqual({ ...d, truthSurface: d.predictionSurface, predictionSurface: d.truthSurface });
  });

  test('a filled square shifted by 3 columns: Hausdorff 3; identical masks: 0', () => {
    const a = mask(30, 30, (y, x) => y >= 10 && y < 20 && x >= 10 && x < 20);
    const b = mask(30, 30, (y, x) => y >= 10 && y < 20 && x >= 13 && x < 23);
    expect(surfaceDistances(a, b, 30, 30).hausdorff).toBe(3);
    expect(surfaceDistances(a, a, 30, 30)).toMatchObject({ hd95: 0, hausdorff: 0, asd: 0, truthSurface: 36 });
  });

  test('concentric discs of radius 12 and 7: boundary distances close to 5', () => {
    const disc = (r: number) => mask(41, 41, (y, x) => (y - 20) ** 2 + (x - 20) ** 2 <= r * r);
    const d = surfaceDistances(disc(12), disc(7), 41, 41);
    expect(Math.abs(d.hd95 - 5)).toBeLessThanOrEqual(1);
    expect(Math.abs(d.asd - 5)).toBeLessThanOrEqual(0.6);
  });

  test('empty-mask conventions: both empty → 0, exactly one empty → NaN', () => {
    const empty = new Uint8Array(16);
    const one = mask(4, 4, (y, x) => y === 1 && x === 1);
    expect(surfaceDistances(empty, empty, 4, 4)).toMatchObject({ hd95: 0, hausdorff: 0, asd: 0 });
    expect(surfaceDistances(one, empty, 4, 4).hd95).toBeNaN();
    expect(surfaceDistances(empty, one, 4, 4).asd).toBeNaN();
    expect(() => surfaceDistances(one, one, 4, 5)).toThrow(/4x5/);
    expect(() => surfaceDistances(one, one, 4, 4, { spacing: [0, 1] })).toThrow(/spacing/);
  });
});

test('maskSurface: pixels touching the background or the border; a 3x3 block keeps only its centre inside', () => {
  const s = maskSurface(mask(5, 5, (y, x) => y >= 1 && y <= 3 && x >= 1 && x <= 3), 5, 5);
  expect(s.reduce((a, b) => a + b, 0)).toBe(8);
  expect(s[2 * 5 + 2]).toBe(0);
  expect(maskSurface(new Uint8Array(9).fill(1), 3, 3).reduce((a, b) => a + b, 0)).toBe(8);
});

test('distanceTransform equals brute force on random sites, with anisotropic spacing', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [h, w, spacing] of [[13, 17, [1, 1]], [9, 21, [0.5, 2]], [1, 7, [1, 3]]] as const) {
    const sites = mask(h, w, () => rand() < 0.08);
    sites[0] = 1;
    const d = distanceTransform(sites, h, w, spacing as [number, number]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let best = Infinity;
        for (let v = 0; v < h; v++) for (let u = 0; u < w; u++) if (sites[v * w + u]) best = Math.min(best, Math.hypot((y - v) * spacing[0], (x - u) * spacing[1]));
        expect(d[y * w + x]).toBeCloseTo(best, 10);
      }
    }
  }
  expect(distanceTransform(new Uint8Array(4), 2, 2)[0]).toBe(Infinity);
});

test('percentile interpolates linearly as NumPy does', () => {
  expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
  expect(percentile([10, 0], 95)).toBeCloseTo(9.5, 12);
  expect(percentile([7], 95)).toBe(7);
  expect(percentile([], 50)).toBeNaN();
});
