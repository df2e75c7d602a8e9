import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SegmentationMetricAccumulator, scoresFromCounts, segmentationMetrics } from '../../src/metrics/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// four 2×2 images (flattened): a partial hit, empty/empty, false positive on empty truth, a miss
const truthRows = [
  [1, 1, 0, 0],
  [0, 0, 0, 0],
  [0, 0, 0, 0],
  [1, 0, 0, 0],
];
const probRows = [
  [0.9, 0.2, 0.6, 0.1],
  [0.1, 0.2, 0.3, 0.4999],
  [0.5, 0, 0, 0], // exactly 0.5 is foreground
  [0.4, 0, 0, 0],
];
const nhwc = (rows: number[][]): tf.Tensor4D => tf.tensor4d(rows.flat(), [rows.length, 2, 2, 1]);

describe('scoresFromCounts', () => {
  it('applies the empty-mask conventions', () => {
    expect(scoresFromCounts({ tp: 0, fp: 0, fn: 0, tn: 9 })).toEqual({ iou: 1, dice: 1, f1: 1, precision: 1, recall: 1, accuracy: 1 });
    expect(scoresFromCounts({ tp: 0, fp: 2, fn: 0, tn: 7 })).toEqual({ iou: 0, dice: 0, f1: 0, precision: 0, recall: 0, accuracy: 7 / 9 });
    expect(scoresFromCounts({ tp: 0, fp: 0, fn: 3, tn: 6 })).toEqual({ iou: 0, dice: 0, f1: 0, precision: 0, recall: 0, accuracy: 6 / 9 });
    const s = scoresFromCounts({ tp: 3, fp: 1, fn: 2, tn: 4 });
    expect(s.iou).toBeCloseTo(3 / 6, 12);
    expect(s.dice).toBeCloseTo(6 / 9, 12);
    expect(s.precision).toBeCloseTo(3 / 4, 12);
    expect(s.recall).toBeCloseTo(3 / 5, 12);
    expect(s.f1).toBeCloseTo(s.dice, 12);
    expect(s.accuracy).toBeCloseTo(7 / 10, 12);
  });
});

describe('segmentationMetrics', () => {
  it('matches hand-worked per-image and pooled scores', () => {
    const t = nhwc(truthRows);
    const p = nhwc(probRows);
    const r = segmentationMetrics(t, p, { keepPerImage: true });
    expect(r.images).toBe(4);
    expect(r.emptyTruthImages).toBe(2);
    expect(r.counts).toEqual({ tp: 1, fp: 2, fn: 2, tn: 11 });
    expect(r.imageScores).toEqual([
      { iou: 1 / 3, dice: 0.5, f1: 0.5, precision: 0.5, recall: 0.5, accuracy: 0.5 },
      { iou: 1, dice: 1, f1: 1, precision: 1, recall: 1, accuracy: 1 },
      { iou: 0, dice: 0, f1: 0, precision: 0, recall: 0, accuracy: 0.75 },
      { iou: 0, dice: 0, f1: 0, precision: 0, recall: 0, accuracy: 0.75 },
    ]);
    expect(r.perImage.iou).toBeCloseTo((1 / 3 + 1) / 4, 12);
    expect(r.perImage.dice).toBeCloseTo(1.5 / 4, 12);
    expect(r.perImage.f1).toBeCloseTo(1.5 / 4, 12);
    expect(r.perImage.precision).toBeCloseTo(1.5 / 4, 12);
    expect(r.perImage.accuracy).toBeCloseTo(3 / 4, 12);
    expect(r.pooled.iou).toBeCloseTo(1 / 5, 12);
    expect(r.pooled.dice).toBeCloseTo(1 / 3, 12);
    expect(r.pooled.f1).toBeCloseTo(1 / 3, 12);
    expect(r.pooled.precision).toBeCloseTo(1 / 3, 12);
    expect(r.pooled.recall).toBeCloseTo(1 / 3, 12);
    expect(r.pooled.accuracy).toBeCloseTo(12 / 16, 12);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    tf.dispose([t, p]);
  });

  it('gives the same report from logits with fromLogits, from [N, H, W] truth, 0/255 truth and nested arrays', () => {
    const ref = segmentationMetrics(nhwc(truthRows), nhwc(probRows));
    const logits = probRows.map((r) => r.map((v) => Math.log(v / (1 - v))));
    expect(segmentationMetrics(nhwc(truthRows), nhwc(logits), { fromLogits: true })).toEqual(ref);
    const t3 = tf.tensor3d(truthRows.flat(), [4, 2, 2]);
    expect(segmentationMetrics(t3, nhwc(probRows))).toEqual(ref);
    expect(segmentationMetrics(truthRows.map((r) => r.map((v) => v * 255)), probRows)).toEqual(ref);
  });

  it('leaves empty-truth images out with excludeEmptyTruth', () => {
    const r = segmentationMetrics(truthRows, probRows, { excludeEmptyTruth: true });
    expect(r.images).toBe(2);
    expect(r.emptyTruthImages).toBe(2);
    expect(r.counts).toEqual({ tp: 1, fp: 1, fn: 2, tn: 4 });
    expect(r.perImage.iou).toBeCloseTo(1 / 6, 12);
    expect(r.pooled.dice).toBeCloseTo(2 / 5, 12);
  });

  it('honours the threshold', () => {
    const r = segmentationMetrics([[1, 1, 0, 0]], [[0.9, 0.7, 0.6, 0.1]], { threshold: 0.8 });
    expect(r.counts).toEqual({ tp: 1, fp: 0, fn: 1, tn: 2 });
    expect(() => new SegmentationMetricAccumulator({ threshold: 1.5 })).toThrow(/threshold/);
  });

  it('scores 1 everywhere for perfect predictions', () => {
    const r = segmentationMetrics(truthRows, truthRows);
    for (const s of [r.perImage, r.pooled]) expect(Object.values(s).every((v) => v === 1)).toBe(true);
  });

  it('rejects mismatched shapes', () => {
    expect(() => segmentationMetrics([[1, 0]], [[1, 0, 0]])).toThrow(/element count/);
  });
});

describe('SegmentationMetricAccumulator', () => {
  it('streams batches (sync and async) to the one-shot report without leaking tensors', async () => {
    const ref = segmentationMetrics(truthRows, probRows, { keepPerImage: true });
    const t = nhwc(truthRows);
    const p = nhwc(probRows);
    const before = tf.memory().numTensors;
    const acc = new SegmentationMetricAccumulator({ keepPerImage: true });
    const a = tf.slice(t, [0, 0, 0, 0], [1, 2, 2, 1]);
    const b = tf.slice(p, [0, 0, 0, 0], [1, 2, 2, 1]);
    acc.update(a, b);
    const c = tf.slice(t, [1, 0, 0, 0], [3, 2, 2, 1]);
    await acc.updateAsync(c, probRows.slice(1));
    expect(acc.result()).toEqual(ref);
    // only the caller's three slices remain
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([a, b, c, t, p]);
    acc.reset();
    const empty = acc.result();
    expect(empty.images).toBe(0);
    expect(empty.perImage.iou).toBe(0);
    expect(empty.imageScores).toEqual([]);
  });

  it('matches a direct pixel count on a random batch', () => {
    let s = 7;
    const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const n = 3;
    const px = 64;
    const truth = Array.from({ length: n }, () => Array.from({ length: px }, () => (rnd() < 0.3 ? 1 : 0)));
    const prob = Array.from({ length: n }, () => Array.from({ length: px }, () => rnd()));
    let inter = 0;
    let union = 0;
    let iouSum = 0;
    for (let i = 0; i < n; i++) {
      let ii = 0;
      let uu = 0;
      for (let j = 0; j < px; j++) {
        const pp = prob[i][j] >= 0.5;
        const tt = truth[i][j] === 1;
        if (pp && tt) ii++;
        if (pp || tt) uu++;
      }
      inter += ii;
      union += uu;
      iouSum += ii / uu;
    }
    const r = segmentationMetrics(truth, prob);
    expect(r.pooled.iou).toBeCloseTo(inter / union, 12);
    expect(r.perImage.iou).toBeCloseTo(iouSum / n, 12);
  });
});
