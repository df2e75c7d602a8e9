import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@busi/kernels';
import { createModel } from '../../src/models/factory';
import { registerSlimResNet } from '../../src/demo/slim-resnet';
import { ensemblePredictor } from '../../src/runs/predictor';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  registerSlimResNet();
});

const model = (seed: number) => createModel({ encoder: 'slim-resnet', decoder: { name: 'unet', decoderChannels: [16, 16, 8, 8, 8] }, classes: 3, seed });

test('ensemble + flip TTA = mean of the probabilities of every model on the image and its mirror (mirrored back); no tensor leak', () => {
  const models = [model(1), model(2)];
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const p = ensemblePredictor(models, 'flip');
  const out = p.forward(x);
  const [mask, cls] = tf.tidy(() => [tf.sigmoid(out.mask), tf.softmax(out.logits)]);
  const expected = tf.tidy(() => {
    const flipped = tf.image.flipLeftRight(x);
    const masks = models.flatMap((m) => [tf.sigmoid(m.predict(x).mask), tf.image.flipLeftRight(tf.sigmoid(m.predict(flipped).mask) as tf.Tensor4D)]);
    const classes = models.flatMap((m) => [tf.softmax(m.predict(x).logits), tf.softmax(m.predict(flipped).logits)]);
    return [tf.mean(tf.stack(masks), 0), tf.mean(tf.stack(classes), 0)];
  });
  expect(maxDiff(mask, expected[0])).toBeLessThan(1e-5);
  expect(maxDiff(cls, expected[1])).toBeLessThan(1e-5);
  tf.dispose([out.mask, out.logits, mask, cls, ...expected]);
  expect(tf.memory().numTensors).toBe(before);
  // one model without TTA returns its own logits
  const plain = ensemblePredictor([models[0]]).forward(x);
  const own = models[0].predict(x);
  expect(maxDiff(plain.mask, own.mask)).toBe(0);
  tf.dispose([plain.mask, plain.logits, own.mask, own.logits, x]);
  p.dispose();
  expect(p.describe).toBe('2 models (mean of probabilities), horizontal-flip TTA');
});
