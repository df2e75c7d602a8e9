import { averagePrecision, calibration, oneVsRest, rocAuc, rocCurve } from '../../src/metrics/index';

// scikit-learn's documented example: roc_auc_score → 0.75, average_precision_score → 0.8333.
const y = [0, 0, 1, 1];
const s = [0.1, 0.4, 0.35, 0.8];

test('ROC AUC, ROC curve and average precision of a hand-worked case', () => {
  expect(rocAuc(s, y)).toBeCloseTo(0.75, 12);
  // thresholds 0.8, 0.4, 0.35, 0.1: (P=1, R=½), (½, ½), (⅔, 1), (½, 1) → AP = ½·1 + ½·⅔
  expect(averagePrecision(s, y)).toBeCloseTo(0.5 + 1 / 3, 12);
  expect(rocCurve(s, y)).toEqual({ fpr: [0, 0, 0.5, 0.5, 1], tpr: [0, 0.5, 0.5, 1, 1], thresholds: [Infinity, 0.8, 0.4, 0.35, 0.1] });
});

test('ties count one half (Mann–Whitney) and form one step of the curves', () => {
  // positive 0.9 beats both negatives; positive 0.5 ties both: (2 + ½ + ½) / 4
  expect(rocAuc([0.5, 0.5, 0.5, 0.9], [1, 0, 0, 1])).toBeCloseTo(0.75, 12);
  expect(averagePrecision([0.5, 0.5, 0.5, 0.9], [1, 0, 0, 1])).toBeCloseTo(0.5 + 0.5 * 0.5, 12);
  expect(rocAuc([0.3, 0.3], [1, 0])).toBe(0.5);
  expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
  expect(averagePrecision([0.1, 0.2], [0, 0])).toBeNaN();
  expect(() => rocAuc([NaN, 1], [0, 1])).toThrow(/not finite/);
});

test('oneVsRest: per-class AUC and AP; an absent class is NaN and left out of the macro means', () => {
  const probs = [
    [0.7, 0.2, 0.1],
    [0.2, 0.7, 0.1],
    [0.5, 0.4, 0.1],
    [0.1, 0.8, 0.1],
  ];
  const r = oneVsRest(probs, [0, 1, 1, 0]);
  // class 0: positives 0.7, 0.1 vs negatives 0.2, 0.5 → wins 0.7>0.2, 0.7>0.5 → 2/4
  expect(r.auc[0]).toBeCloseTo(0.5, 12);
  // class 1: positives 0.7, 0.4 vs negatives 0.2, 0.8 → 0.7>0.2, 0.4>0.2 → 2/4
  expect(r.auc[1]).toBeCloseTo(0.5, 12);
  expect(r.auc[2]).toBeNaN();
  expect(r.macroAuc).toBeCloseTo(0.5, 12);
  expect(r.averagePrecision[2]).toBeNaN();
});

test('expected calibration error of a hand-worked case (5 bins)', () => {
  // confidences 0.9 (right), 0.78 (wrong), 0.72 (right), 0.58 (right)
  const probs = [
    [0.9, 0.1],
    [0.78, 0.22],
    [0.28, 0.72],
    [0.58, 0.42],
  ];
  const r = calibration(probs, [0, 1, 1, 0], 5);
  // bins (0.8,1]: |1 − 0.9|; (0.6,0.8]: |½ − 0.75| for 2; (0.4,0.6]: |1 − 0.58|
  expect(r.ece).toBeCloseTo((0.1 + 2 * 0.25 + 0.42) / 4, 12);
  expect(r.mce).toBeCloseTo(0.42, 12);
  expect(r.bins.map((b) => b.count)).toEqual([0, 0, 1, 2, 1]);
  expect(r.bins[3].accuracy).toBe(0.5);
  expect(r.bins[0].confidence).toBeNaN();
  expect(calibration([[1, 0]], [0], 10).ece).toBe(0);
  expect(() => calibration([[1.2, 0]], [0])).toThrow(/outside \[0, 1\]/);
});
