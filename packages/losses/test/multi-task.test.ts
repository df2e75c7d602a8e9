import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// registers tfjs-core's gradient functions (tfjs-core's Node build does not)
import '@tensorflow/tfjs-layers';
import { DiceLoss, FocalLoss, MultiTaskLoss, type Loss } from '../src';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const maskLogits = (): tf.Tensor4D => tf.tensor4d([0.5, -1, 2, -0.3, 1, 1, -2, 0.1], [2, 2, 2, 1]);
const maskTarget = (): tf.Tensor4D => tf.tensor4d([1, 0, 1, 0, 0, 0, 0, 0], [2, 2, 2, 1]);
const clsLogits = (): tf.Tensor2D => tf.tensor2d([[1, 0, -1], [0.2, 0.3, 2]]);
const clsLabels = (): tf.Tensor1D => tf.tensor1d([0, 2], 'int32');
const scalar = (t: tf.Tensor): number => t.dataSync()[0];

describe('MultiTaskLoss', () => {
  it('is λ·Dice + (1-λ)·Focal with the defaults λ = 0.7, paper Dice and softmax focal', () => {
    tf.tidy(() => {
      const parts = new MultiTaskLoss().compute(maskLogits(), maskTarget(), clsLogits(), clsLabels());
      const seg = scalar(new DiceLoss().call(maskLogits(), maskTarget()));
      const cls = scalar(new FocalLoss().call(clsLogits(), clsLabels()));
      expect(scalar(parts.segmentation)).toBeCloseTo(seg, 6);
      expect(scalar(parts.classification)).toBeCloseTo(cls, 6);
      expect(scalar(parts.total)).toBeCloseTo(0.7 * seg + 0.3 * cls, 6);
      expect(seg).toBeGreaterThan(0);
      expect(cls).toBeGreaterThan(0);
      const total = new MultiTaskLoss().call(maskLogits(), maskTarget(), clsLogits(), clsLabels());
      expect(total.rank).toBe(0);
      expect(scalar(total)).toBeCloseTo(0.7 * seg + 0.3 * cls, 6);
    });
  });

  it('uses the given λ and sub-losses; λ = 1 and λ = 0 select one task', () => {
    tf.tidy(() => {
      const smp = { segmentation: new DiceLoss({ variant: 'smp' }), classification: new FocalLoss({ variant: 'smp' }) };
      const seg = scalar(smp.segmentation.call(maskLogits(), maskTarget()));
      const cls = scalar(smp.classification.call(clsLogits(), clsLabels()));
      const at = (lambda: number): number =>
        scalar(new MultiTaskLoss({ lambda, ...smp }).call(maskLogits(), maskTarget(), clsLogits(), clsLabels()));
      expect(at(1)).toBeCloseTo(seg, 6);
      expect(at(0)).toBeCloseTo(cls, 6);
      expect(at(0.25)).toBeCloseTo(0.25 * seg + 0.75 * cls, 6);
    });
  });

  it('differentiates into the λ-weighted sum of the parts’ gradients', () => {
    tf.tidy(() => {
      const loss = new MultiTaskLoss({ lambda: 0.6 });
      const [gm, gc] = tf.grads((m: tf.Tensor, c: tf.Tensor) => loss.call(m, maskTarget(), c, clsLabels()))([
        maskLogits(),
        clsLogits(),
      ]);
      const gSeg = tf.grad((m: tf.Tensor) => loss.segmentation.call(m, maskTarget()))(maskLogits());
      const gCls = tf.grad((c: tf.Tensor) => loss.classification.call(c, clsLabels()))(clsLogits());
      const diff = (a: tf.Tensor, b: tf.Tensor): number => scalar(tf.max(tf.abs(tf.sub(a, b))));
      expect(diff(gm, tf.mul(gSeg, 0.6))).toBeLessThan(1e-6);
      expect(diff(gc, tf.mul(gCls, 0.4))).toBeLessThan(1e-6);
      expect(scalar(tf.max(tf.abs(gSeg)))).toBeGreaterThan(1e-3);
    });
  });

  it('trains a toy model with optimizer.minimize without leaking tensors', () => {
    // a per-pixel affine mask head and a linear classifier on fixed features
    const w = tf.variable(tf.scalar(0.1));
    const b = tf.variable(tf.scalar(0));
    const wc = tf.variable(tf.zeros([4, 3]));
    const feats = tf.tensor2d([[1, 0, 0, 1], [0, 1, 1, 0]]);
    const pix = tf.tensor4d([1, -1, 1, -1, -1, -1, -1, -1], [2, 2, 2, 1]);
    const target = maskTarget();
    const labels = clsLabels();
    const loss = new MultiTaskLoss();
    const opt = tf.train.adam(0.1);
    const step = (): number => {
      const v = opt.minimize(() => loss.call(tf.add(tf.mul(pix, w), b), target, tf.matMul(feats, wc), labels), true);
      const out = scalar(v!);
      v!.dispose();
      return out;
    };
    const first = step();
    const afterFirst = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 30; i++) last = step();
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(last).toBeLessThan(first * 0.5);
    tf.dispose([w, b, wc, feats, pix, target, labels]);
    opt.dispose();
  });

  it('serialises to JSON and rebuilds an equal loss', () => {
    const loss = new MultiTaskLoss({ lambda: 0.5, segmentation: new DiceLoss({ variant: 'smp' }), classification: new FocalLoss({ alpha: [1, 2, 3] }) });
    const json = JSON.parse(JSON.stringify(loss.getConfig()));
    expect(json).toEqual({
      lambda: 0.5,
      segmentation: { className: 'DiceLoss', config: { variant: 'smp', averaging: 'batch', smooth: 0, eps: 1e-7 } },
      classification: { className: 'FocalLoss', config: { alpha: [1, 2, 3], gamma: 2, reduction: 'mean', variant: 'softmax' } },
    });
    const back = new MultiTaskLoss(json);
    expect(back.getConfig()).toEqual(json);
    tf.tidy(() => {
      const a = scalar(loss.call(maskLogits(), maskTarget(), clsLogits(), clsLabels()));
      expect(scalar(back.call(maskLogits(), maskTarget(), clsLogits(), clsLabels()))).toBe(a);
    });
  });

  it('rejects a λ outside [0, 1], unknown loss classes and non-scalar parts', () => {
    expect(() => new MultiTaskLoss({ lambda: 1.5 })).toThrow(/lambda/);
    expect(() => new MultiTaskLoss({ segmentation: { className: 'Nope', config: {} } })).toThrow(/unknown loss/);
    const loss = new MultiTaskLoss({ classification: new FocalLoss({ reduction: 'none' }) as Loss });
    expect(() => loss.call(maskLogits(), maskTarget(), clsLogits(), clsLabels())).toThrow(/scalar/);
  });
});
