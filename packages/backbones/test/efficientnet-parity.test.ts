import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { applyParityFill, createEncoder, parityInputs, readSafetensors } from '@busi/core';
import '@busi/backbones';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/parity');
const DECODERS = ['Unet', 'UnetPlusPlus', 'FPN', 'DeepLabV3Plus'];

interface Fixture {
  json: { salt: string; input_shape: number[]; encoder_features: Record<string, { shape: number[] }> };
  tensors: Map<string, Float32Array>;
}

function loadFixture(decoder: string): Fixture {
  const base = path.join(FIXTURES, `${decoder}__efficientnet-b4`);
  const json = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8'));
  const file = readSafetensors(new Uint8Array(fs.readFileSync(`${base}.safetensors`)));
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) tensors.set(name, t.data as Float32Array);
  return { json, tensors };
}

/** Encoder features of batch item 0 in eval mode, flattened NCHW (C order) as the fixtures store them. */
function encoderFeatures(outputStride: 16 | 32, inputShape: number[], salt: string): Float32Array[] {
  const [, c, h, w] = inputShape;
  const enc = createEncoder('efficientnet-b4', { outputStride });
  const input = tfl.input({ shape: [h, w, c] });
  const model = tfl.model({ inputs: input, outputs: enc.apply(input).slice(1) });
  applyParityFill(model, salt);
  const { input: x } = parityInputs([1, c, h, w], salt);
  return tf.tidy(() => {
    const nhwc = tf.transpose(tf.tensor(x.data, x.shape), [0, 2, 3, 1]);
    const outs = model.apply(nhwc, { training: false }) as tf.Tensor[];
    return outs.map((o) => tf.transpose(o, [0, 3, 1, 2]).dataSync() as Float32Array);
  });
}

// Eval-mode forward only: the wasm backend has every kernel it needs and is ~30x faster than cpu.
beforeAll(async () => {
  await tf.setBackend('wasm');
});

const cache = new Map<number, Float32Array[]>();

describe.each(DECODERS)('%s__efficientnet-b4 encoder stages (eval)', (decoder) => {
  test('encoder.1..5 match the PyTorch reference', () => {
    const fx = loadFixture(decoder);
    const outputStride = decoder === 'DeepLabV3Plus' ? 16 : 32;
    if (!cache.has(outputStride)) cache.set(outputStride, encoderFeatures(outputStride, fx.json.input_shape, fx.json.salt));
    const ours = cache.get(outputStride)!;
    for (let k = 1; k <= 5; k++) {
      const ref = fx.tensors.get(`encoder.${k}`)!;
      const full = ours[k - 1];
      const shape = fx.json.encoder_features[`encoder.${k}`].shape;
      expect(full.length).toBe(shape.slice(1).reduce((a, b) => a * b, 1));
      let err = 0;
      let sq = 0;
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(full[7 * i] - ref[i]));
        sq += ref[i] * ref[i];
      }
      const rms = Math.sqrt(sq / ref.length);
      if (!(err <= 1e-3 * rms + 1e-6)) throw new Error(`${decoder} encoder.${k}: max error ${err} > 1e-3 * rms ${rms}`);
    }
  });
});
