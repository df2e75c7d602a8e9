import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// registers tfjs-core's gradient functions (tfjs-core's Node build does not)
import '@tensorflow/tfjs-layers';
import { DiceLoss, FocalLoss, MultiTaskLoss } from '../src';

/** Loss values and input gradients of every variant, on the current backend. */
function run(): number[] {
  return tf.tidy(() => {
    const mask = tf.tensor4d([0.5, -1, 2, -0.3, 1, 1, -2, 0.1, 3, -4, 0, 0.2], [3, 2, 2, 1]);
    const truth = tf.tensor4d([1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0], [3, 2, 2, 1]);
    const logits = tf.tensor2d([[1, 0, -1], [0.2, 0.3, 2], [5, -5, 0.5]]);
    const labels = tf.tensor1d([0, 2, 1], 'int32');
    const out: number[] = [];
    const losses = [
      new MultiTaskLoss(),
      new MultiTaskLoss({
        segmentation: new DiceLoss({ variant: 'smp' }),
        classification: new FocalLoss({ variant: 'smp', alpha: 0.25, gamma: 1.5 }),
      }),
      new MultiTaskLoss({ segmentation: new DiceLoss({ averaging: 'batch' }), classification: new FocalLoss({ alpha: [1, 2, 3] }) }),
    ];
    for (const loss of losses) {
      const { value, grads } = tf.valueAndGrads((m: tf.Tensor, c: tf.Tensor) => loss.call(m, truth, c, labels))([mask, logits]);
      out.push(...value.dataSync(), ...grads[0].dataSync(), ...grads[1].dataSync());
    }
    return out;
  });
}

it('gives the same values and gradients on the wasm backend as on cpu', async () => {
  await tf.setBackend('cpu');
  const cpu = run();
  await tf.setBackend('wasm');
  const wasm = run();
  expect(wasm).toHaveLength(cpu.length);
  wasm.forEach((v, i) => expect(Math.abs(v - cpu[i])).toBeLessThan(1e-5));
  expect(cpu.some((v) => Math.abs(v) > 1e-3)).toBe(true);
});
