import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, BatchNorm2d, MultiTaskModel, Resize, type Encoder, type Decoder } from '../src';

function toyEncoder(): Encoder {
  const ch = [3, 4, 6, 8, 10, 12];
  return {
    name: 'toy', outChannels: ch, reductions: [1, 2, 4, 8, 16, 32], featureNames: [], outputStride: 32,
    apply(x: SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i <= 5; i++) {
        y = new Conv2d({ name: `encoder.c${i}`, filters: ch[i], kernelSize: 3, strides: 2, padding: 1 }).apply(y) as SymbolicTensor;
        y = new BatchNorm2d({ name: `encoder.bn${i}` }).apply(y) as SymbolicTensor;
        out.push(y);
      }
      return out;
    },
    getConfig: () => ({ name: 'toy', args: { inChannels: 3, depth: 5, outputStride: 32, prefix: 'encoder' } }),
  };
}
function toyDecoder(): Decoder {
  return {
    name: 'toydec', outChannels: 4, outputStride: 1, headKernelSize: 3,
    apply(f: SymbolicTensor[]) {
      const up = new Resize({ name: 'decoder.up', scale: 32 }).apply(f[5]) as SymbolicTensor;
      return new Conv2d({ name: 'decoder.c', filters: 4, kernelSize: 1 }).apply(up) as SymbolicTensor;
    },
    getConfig: () => ({ name: 'toydec', args: {} }),
  };
}

test('toy multi-task model builds, predicts and validates', async () => {
  await tf.setBackend('cpu');
  const m = new MultiTaskModel({ encoder: toyEncoder(), decoder: toyDecoder(), classes: 3 });
  const x = tf.randomNormal([2, 64, 96, 3]) as tf.Tensor4D;
  const { mask, logits } = m.predict(x);
  expect(mask.shape).toEqual([2, 64, 96, 1]);
  expect(logits.shape).toEqual([2, 3]);
  expect(() => m.predict(tf.zeros([1, 50, 64, 3]) as tf.Tensor4D)).toThrow(/divisible by the output stride 32/);
  const before = tf.memory().numTensors;
  const t = m.forward(x, true);
  tf.dispose([t.mask, t.logits]);
  expect(tf.memory().numTensors).toBe(before);
  console.log(m.summary());
});
