/**
 * ResNet-family encoders at output stride 16 against the DeepLabV3+ fixtures' encoder stages
 * (eval mode): this pins smp's dilation rules (native: every layer4 3×3 conv at rate 2; timm:
 * layer4 block 0's conv2 left at rate 1). Output stride 32 is covered by the Unet parity test.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { applyParityFill, createEncoder, parityInputs, readSafetensors } from '@busi/core';
import { initBackend } from '@busi/node';
import '../src';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/parity');

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe.each(['resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2'])('%s at output stride 16', (name) => {
  it('matches encoder.1..5 of the DeepLabV3+ fixture', () => {
    const base = path.join(FIXTURES, `DeepLabV3Plus__${name}`);
    const json = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as {
      salt: string;
      input_shape: number[];
      encoder_features: Record<string, { shape: number[] }>;
    };
    const ref = readSafetensors(new Uint8Array(fs.readFileSync(`${base}.safetensors`))).tensors;
    const [n, c, h, w] = json.input_shape;
    const encoder = createEncoder(name, { outputStride: 16 });
    const input = tfl.input({ shape: [h, w, c] });
    const model = tfl.model({ inputs: input, outputs: encoder.apply(input).slice(1) });
    applyParityFill(model, json.salt);
    const { input: x } = parityInputs([n, c, h, w], json.salt);
    const before = tf.memory().numTensors;
    const feats = tf.tidy(() => {
      const outs = model.apply(tf.transpose(tf.tensor4d(x.data, [n, c, h, w]), [0, 2, 3, 1]), { training: false }) as tf.Tensor[];
      return outs.map((o) => ({ shape: [o.shape[0], o.shape[3], o.shape[1], o.shape[2]], item0: tf.transpose(o, [0, 3, 1, 2]).dataSync().slice(0, o.size / n) }));
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    for (let k = 1; k <= 5; k++) {
      const key = `encoder.${k}`;
      expect({ key, shape: feats[k - 1].shape }).toEqual({ key, shape: json.encoder_features[key].shape });
      const want = ref.get(key)!.data as Float32Array;
      const got = feats[k - 1].item0;
      let err = 0;
      let sq = 0;
      for (let i = 0; i < want.length; i++) {
        err = Math.max(err, Math.abs(got[7 * i] - want[i]));
        sq += want[i] * want[i];
      }
      const tol = 1e-3 * Math.sqrt(sq / want.length) + 1e-6;
      expect({ key, err, pass: err <= tol }).toEqual({ key, err, pass: true });
    }
  });
});
