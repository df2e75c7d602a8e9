/**
 * releasingVariableGrads (the Trainer's gradient) against tf.variableGrads on real paper-family
 * models in training mode: the same numbers bit for bit, a lower tensor peak (0.60 and 0.73 of
 * tf.variableGrads' for the two cases below when written), nothing left behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { releasingVariableGrads } from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import { initBackend } from '@busi/kernels';
import { buildModel } from '../../src';
import { peakBytesDuring } from '../../src/runs/training-memory';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const cases: Array<[string, string, number]> = [
  ['unet', 'resnet18', 64],
  ['deeplabv3plus', 'efficientnet-b0', 64], // depthwise, squeeze-excite, dilated separable convs, customGrad BatchNorm
];

test.each(cases)('%s / %s: the same gradients as tf.variableGrads, at a lower peak', async (decoder, encoder, size) => {
  const model = buildModel({ encoder, decoder, decoderChannels: null, dropout: 0.5, classNames: ['benign', 'malignant', 'normal'], seed: 1 });
  const x = tf.randomUniform([2, size, size, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const masks = tf.cast(tf.greater(tf.randomUniform([2, size, size, 1], 0, 1, 'float32', 4), 0.5), 'float32');
  const labels = tf.tensor1d([0, 2], 'int32');
  const loss = new MultiTaskLoss();
  const vars = model.trainableVariables();
  const f = () => {
    const out = model.forward(x, true, { seed: 7 });
    return loss.compute(out.mask, masks, out.logits, labels).total as tf.Scalar;
  };
  const before = tf.memory().numTensors;
  let standard!: { value: tf.Scalar; grads: tf.NamedTensorMap };
  const standardPeak = await peakBytesDuring(() => {
    standard = tf.variableGrads(f, vars);
  });
  const reference = { value: standard.value.dataSync()[0], grads: Object.fromEntries(Object.entries(standard.grads).map(([k, g]) => [k, g.dataSync().slice()])) };
  tf.dispose([standard.value, standard.grads]);
  let released!: { value: tf.Scalar; grads: tf.NamedTensorMap };
  const releasedPeak = await peakBytesDuring(() => {
    released = releasingVariableGrads(f, vars);
  });
  expect(released.value.dataSync()[0]).toBe(reference.value);
  expect(Object.keys(released.grads).sort()).toEqual(Object.keys(reference.grads).sort());
  for (const [name, g] of Object.entries(released.grads)) expect({ name, same: tf.util.arraysEqual(g.dataSync(), reference.grads[name]) }).toEqual({ name, same: true });
  tf.dispose([released.value, released.grads]);
  expect(tf.memory().numTensors).toBe(before);
  expect(releasedPeak - tf.memory().numBytes).toBeLessThan(0.85 * (standardPeak - tf.memory().numBytes));
  tf.dispose([x, masks, labels]);
  model.dispose();
});

test('f must return a scalar; an empty variable list is refused', () => {
  const v = tf.variable(tf.ones([3]));
  const before = tf.memory().numTensors;
  expect(() => releasingVariableGrads(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow(/f must return a scalar tensor/);
  expect(() => releasingVariableGrads(() => tf.sum(v), [])).toThrow(/no variables to differentiate/);
  expect(tf.memory().numTensors).toBe(before); // the refused call left no tape or tensor behind
  v.dispose();
});
