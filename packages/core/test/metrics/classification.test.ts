import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MetricAccumulator, classificationMetrics } from '../../src/metrics/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// truth  0 0 1 1 2 2 0
// pred   0 1 1 1 2 0 0
const truth = [0, 0, 1, 1, 2, 2, 0];
const pred = [0, 1, 1, 1, 2, 0, 0];

describe('classificationMetrics', () => {
  it('matches a hand-worked 3-class case', () => {
    const r = classificationMetrics(truth, pred);
    expect(r.confusion).toEqual([
      [2, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(r.count).toBe(7);
    expect(r.accuracy).toBeCloseTo(5 / 7, 12);
    const expected = [
      { precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3, predicted: 3 },
      { precision: 2 / 3, recall: 1, f1: 0.8, support: 2, predicted: 3 },
      { precision: 1, recall: 0.5, f1: 2 / 3, support: 2, predicted: 1 },
    ];
    r.perClass.forEach((k, i) => {
      for (const key of ['precision', 'recall', 'f1', 'support', 'predicted'] as const) {
        expect(k[key]).toBeCloseTo(expected[i][key], 12);
      }
    });
    expect(r.macroF1).toBeCloseTo((2 / 3 + 0.8 + 2 / 3) / 3, 12);
    expect(r.macroPrecision).toBeCloseTo((2 / 3 + 2 / 3 + 1) / 3, 12);
    expect(r.macroRecall).toBeCloseTo((2 / 3 + 1 + 0.5) / 3, 12);
    expect(r.weightedF1).toBeCloseTo((3 * (2 / 3) + 2 * 0.8 + 2 * (2 / 3)) / 7, 12);
  });

  it('takes logits / probabilities / one-hot rows and tensors, giving the same report', () => {
    const logits = pred.map((y) => [0, 1, 2].map((c) => (c === y ? 2.5 : -1 + c * 0.1)));
    const oneHotTruth = truth.map((y) => [0, 1, 2].map((c) => (c === y ? 1 : 0)));
    const ref = classificationMetrics(truth, pred);
    expect(classificationMetrics(oneHotTruth, logits)).toEqual(ref);
    const t = tf.tensor1d(truth, 'int32');
    const p = tf.tensor2d(logits);
    expect(classificationMetrics(t, p)).toEqual(ref);
    const probs = tf.tidy(() => tf.softmax(p).arraySync() as number[][]);
    expect(classificationMetrics(Int32Array.from(truth), probs)).toEqual(ref);
    tf.dispose([t, p]);
  });

  it('handles classes absent from truth and predictions: F1 0, averaged over all classes or the present ones', () => {
    // class 2 occurs in the truth but is never predicted; class 3 occurs nowhere
    const opts = { numClasses: 4 };
    const all = classificationMetrics([0, 1, 1, 2], [0, 1, 0, 1], opts);
    expect(all.perClass[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 1, predicted: 0 });
    expect(all.perClass[3]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0, predicted: 0 });
    expect(all.macroF1).toBeCloseTo((2 / 3 + 0.5) / 4, 12);
    const present = classificationMetrics([0, 1, 1, 2], [0, 1, 0, 1], { ...opts, macroAverage: 'present' });
    // scikit-learn f1_score([0,1,1,2], [0,1,0,1], average='macro', zero_division=0) = 0.38888...
    expect(present.macroF1).toBeCloseTo((2 / 3 + 0.5) / 3, 12);
    expect(present.confusion).toHaveLength(4);
  });

  it('scores 1 for all-correct predictions', () => {
    const r = classificationMetrics([2, 0, 1, 1], [2, 0, 1, 1], { classNames: ['benign', 'malignant', 'normal'] });
    expect(r.accuracy).toBe(1);
    expect(r.macroF1).toBe(1);
    expect(r.classNames).toEqual(['benign', 'malignant', 'normal']);
  });

  it('is plain JSON', () => {
    const r = classificationMetrics(truth, pred, { classNames: ['a', 'b', 'c'] });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('MetricAccumulator', () => {
  it('gives the one-shot report when fed in batches', () => {
    const acc = new MetricAccumulator({ numClasses: 3 });
    acc.update(truth.slice(0, 3), pred.slice(0, 3));
    const t = tf.tensor1d(truth.slice(3), 'int32');
    const p = tf.tensor1d(pred.slice(3), 'int32');
    acc.update(t, p);
    tf.dispose([t, p]);
    expect(acc.result()).toEqual(classificationMetrics(truth, pred));
    acc.reset();
    expect(acc.result().count).toBe(0);
    expect(acc.result().accuracy).toBe(0);
    expect(acc.result().confusion).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
  });

  it('grows its matrix without numClasses', () => {
    const acc = new MetricAccumulator();
    acc.update([0, 1], [0, 1]);
    expect(acc.result().confusion).toHaveLength(2);
    acc.update([[0, 0, 0, 1]], [[1, 0, 0, 0]]);
    const r = acc.result();
    expect(r.confusion).toEqual([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 0],
      [1, 0, 0, 0],
    ]);
  });

  it('rejects bad input and leaves its state unchanged', () => {
    const acc = new MetricAccumulator({ numClasses: 3 });
    acc.update([0], [0]);
    expect(() => acc.update([0, 1], [0])).toThrow(/true labels/);
    expect(() => acc.update([0, 3], [0, 1])).toThrow(/label 3/);
    expect(() => acc.update([0, 1], [-1, 1])).toThrow(/label -1/);
    expect(() => acc.update([0.5], [1])).toThrow(/label 0.5/);
    expect(() => acc.update([0], [[1, 2, 3, 4]])).toThrow(/4 classes/);
    expect(() => new MetricAccumulator({ numClasses: 2, classNames: ['a'] })).toThrow(/class names/);
    const t = tf.zeros([1, 1, 3]);
    expect(() => acc.update(t, [0])).toThrow(/shape/);
    t.dispose();
    expect(acc.result().count).toBe(1);
    expect(acc.result().accuracy).toBe(1);
  });
});
