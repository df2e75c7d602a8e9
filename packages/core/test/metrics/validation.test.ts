import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MultiTaskMetrics, classificationMetrics, segmentationMetrics } from '../../src/metrics/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('MultiTaskMetrics', () => {
  it('accumulates both tasks from model outputs and logs flat numbers', () => {
    const maskLogits = [[2, -1, 0.5, -3], [-2, -2, -2, -2], [1, -1, -1, -1]];
    const maskTruth = [[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]];
    const classLogits = [[2, 0, 0], [0, 0, 3], [0, 1, 0]];
    const labels = [0, 2, 0];
    const m = new MultiTaskMetrics({ classNames: ['benign', 'malignant', 'normal'] });
    const mask = tf.tensor4d(maskLogits.flat(), [3, 2, 2, 1]);
    const masks = tf.tensor4d(maskTruth.flat(), [3, 2, 2, 1]);
    const logits = tf.tensor2d(classLogits);
    const lab = tf.tensor1d(labels, 'int32');
    const before = tf.memory().numTensors;
    // two batches: the first sample, then the other two
    m.update({ mask: tf.slice(mask, 0, 1), logits: tf.slice(logits, 0, 1) }, { masks: tf.slice(masks, 0, 1), labels: tf.slice(lab, 0, 1) });
    m.update({ mask: tf.slice(mask, 1, 2), logits: tf.slice(logits, 1, 2) }, { masks: tf.slice(masks, 1, 2), labels: tf.slice(lab, 1, 2) });
    expect(tf.memory().numTensors).toBe(before + 8);
    const cls = classificationMetrics(labels, classLogits, { numClasses: 3 });
    const seg = segmentationMetrics(maskTruth, maskLogits, { fromLogits: true });
    const logs = m.result();
    expect(logs.accuracy).toBeCloseTo(2 / 3, 12);
    expect(logs.macro_f1).toBeCloseTo(cls.macroF1, 12);
    expect(logs.f1_malignant).toBe(0);
    expect(logs.f1_normal).toBe(1);
    expect(logs.iou).toBeCloseTo(seg.perImage.iou, 12);
    expect(logs.dice_pooled).toBeCloseTo(seg.pooled.dice, 12);
    // by hand: image 0 tp 1 fp 1 fn 1 tn 1; image 1 tn 4; image 2 tp 1 tn 3
    expect(m.report().segmentation.counts).toEqual({ tp: 2, fp: 1, fn: 1, tn: 8 });
    expect(Object.values(logs).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
    m.reset();
    expect(m.report().classification.count).toBe(0);
    tf.dispose([mask, masks, logits, lab]);
  });

  it('updateAsync (the trainer\'s path, for GPU backends) gives exactly the counts and logs of update', async () => {
    const mask = tf.tensor4d([2, -1, 0.5, -3, -2, -2, 1, 4], [2, 2, 2, 1]);
    const masks = tf.tensor4d([1, 1, 0, 0, 0, 0, 1, 1], [2, 2, 2, 1]);
    const logits = tf.tensor2d([[2, 0, 0], [0, 0.5, 3]]);
    const oneHot = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
    const sync = new MultiTaskMetrics();
    const async = new MultiTaskMetrics();
    const before = tf.memory().numTensors;
    sync.update({ mask, logits }, { masks, labels: oneHot });
    await async.updateAsync({ mask, logits }, { masks, labels: oneHot });
    expect(tf.memory().numTensors).toBe(before);
    expect(async.report()).toEqual(sync.report());
    expect(async.result()).toEqual(sync.result());
    expect(async.report().classification.count).toBe(2);
    const rank3 = tf.zeros([2, 2, 2]);
    await expect(async.updateAsync({ mask, logits: rank3 as tf.Tensor2D }, { masks, labels: oneHot })).rejects.toThrow(/prediction: expected labels \[N\] or scores \[N, C\]/);
    tf.dispose([mask, masks, logits, oneHot, rank3]);
  });
});
