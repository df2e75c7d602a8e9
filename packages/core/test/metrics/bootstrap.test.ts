import { bootstrapCI, bootstrapIndices, evaluationMetrics, type ImageResult } from '../../src/metrics/index';

const mean = (v: number[]) => (idx: ArrayLike<number>) => Array.from(idx).reduce((a, i) => a + v[i], 0) / idx.length;

test('bootstrap CI of a mean matches the normal approximation mean ± 1.96·sd/√n', () => {
  // a fixed sample: n = 400 values spread uniformly over [0, 1] (sd = 1/√12)
  const v = Array.from({ length: 400 }, (_, i) => ((i * 0.618034) % 1));
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  const half = (1.96 * sd) / Math.sqrt(v.length);
  const ci = bootstrapCI(v.length, mean(v), { seed: 3, resamples: 2000 });
  expect(ci.value).toBeCloseTo(m, 12);
  expect(Math.abs(m - ci.low - half) / half).toBeLessThan(0.12);
  expect(Math.abs(ci.high - m - half) / half).toBeLessThan(0.12);
  expect(ci.resamples).toBe(2000);
  expect(bootstrapCI(v.length, mean(v), { seed: 3, resamples: 2000 })).toEqual(ci);
  expect(bootstrapCI(v.length, mean(v), { seed: 4, resamples: 2000 }).low).not.toBe(ci.low);
});

test('constant data gives a degenerate interval; undefined resamples are dropped and counted', () => {
  expect(bootstrapCI(5, mean([2, 2, 2, 2, 2]))).toMatchObject({ value: 2, low: 2, high: 2, level: 0.95, resamples: 1000 });
  // a statistic defined only in resamples that drew sample 0
  const ci = bootstrapCI(3, (idx) => (Array.from(idx).includes(0) ? 1 : NaN), { seed: 1, resamples: 500 });
  expect(ci.resamples).toBeLessThan(500);
  expect(ci.resamples).toBeGreaterThan(250); // P(sample 0 drawn at least once) = 1 − (2/3)³ ≈ 0.70
  const idx = bootstrapIndices(10, 3, 9);
  expect(idx).toHaveLength(3);
  expect(idx.every((a) => a.length === 10 && a.every((i) => i >= 0 && i < 10))).toBe(true);
  expect(() => bootstrapIndices(0)).toThrow(/at least one sample/);
});

test('evaluationMetrics: headline point values equal hand computations and sit inside their intervals', () => {
  const d = (hd95: number, asd: number) => ({ hd95, hausdorff: hd95, asd, truthSurface: 1, predictionSurface: 1 });
  const results: ImageResult[] = [
    // benign, lesion found: dice 2·8/(16+2+2) = 0.8
    { label: 0, probabilities: [0.8, 0.1, 0.1], counts: { tp: 8, fp: 2, fn: 2, tn: 88 }, distances: d(2, 1) },
    // malignant, lesion found: dice 2·5/(10+5+0) = 2/3
    { label: 1, probabilities: [0.3, 0.6, 0.1], counts: { tp: 5, fp: 5, fn: 0, tn: 90 }, distances: d(4, 2) },
    // normal, correctly empty: dice 1, no distance
    { label: 2, probabilities: [0.2, 0.2, 0.6], counts: { tp: 0, fp: 0, fn: 0, tn: 100 }, distances: d(0, 0) },
    // benign, lesion missed and called malignant: dice 0, distance undefined
    { label: 0, probabilities: [0.3, 0.5, 0.2], counts: { tp: 0, fp: 0, fn: 9, tn: 91 }, distances: d(NaN, NaN) },
  ];
  const m = evaluationMetrics(results, { classNames: ['benign', 'malignant', 'normal'], resamples: 300, seed: 2 });
  expect(m.headline.dice.value).toBeCloseTo((0.8 + 2 / 3 + 1 + 0) / 4, 12);
  expect(m.headline.iou.value).toBeCloseTo((8 / 12 + 5 / 10 + 1 + 0) / 4, 12);
  expect(m.headline.hd95.value).toBe(3); // images 1 and 2 only
  expect(m.headline.asd.value).toBe(1.5);
  expect(m.headline.accuracy.value).toBe(0.75);
  // benign vs rest: positives 0.8, 0.3 vs negatives 0.3, 0.2 → (1 + 1 + ½ + 1) / 4
  expect(m.headline.auc_benign.value).toBeCloseTo(3.5 / 4, 12);
  expect(m.headline.auc_normal.value).toBe(1);
  expect(m.distanceCoverage).toEqual({ measured: 2, missed: 1, falseLesion: 0, bothEmpty: 1 });
  for (const [k, ci] of Object.entries(m.headline)) {
    if (!Number.isFinite(ci.value)) continue;
    expect([k, ci.low <= ci.value + 1e-12 && ci.value <= ci.high + 1e-12]).toEqual([k, true]);
  }
  expect(m.roc.benign.fpr[0]).toBe(0);
  expect(m.headline.hd95_mm).toBeUndefined();
});
