import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, Linear, Resize, countMacs } from '../../src';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('countMacs: Conv2d (stride, groups, dilation, asymmetric padding) and Linear from shapes', () => {
  const x = tfl.input({ shape: [null, null, 4] });
  // 3x3 stride 2 pad 1: 448 -> 224; 4 -> 8 channels.
  const a = new Conv2d({ name: 'encoder.a', filters: 8, kernelSize: 3, strides: 2, padding: 1 }).apply(x) as SymbolicTensor;
  // depthwise 3x3, dilation 2, padding 2: size kept.
  const b = new Conv2d({ name: 'decoder.b', filters: 8, kernelSize: 3, padding: 2, dilation: 2, groups: 8 }).apply(a) as SymbolicTensor;
  // 1x1 grouped, then bilinear x2 (not counted), then a 2x2 conv with padding [0, 1, 0, 1].
  const c = new Conv2d({ name: 'decoder.c', filters: 6, kernelSize: 1, groups: 2 }).apply(b) as SymbolicTensor;
  const up = new Resize({ name: 'decoder.up', scale: 2, mode: 'bilinear', alignCorners: true }).apply(c) as SymbolicTensor;
  const d = new Conv2d({ name: 'segmentation_head.0', filters: 1, kernelSize: 2, padding: [0, 1, 0, 1] }).apply(up) as SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'classification_head.0' }).apply(b) as SymbolicTensor;
  const logits = new Linear({ name: 'classification_head.3', units: 3 }).apply(pooled) as SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: [d, logits] });

  const m = countMacs(model, [448, 320]);
  const ea = 224 * 160 * 8 * 9 * 4;
  const db = 224 * 160 * 8 * 9 * 1;
  const dc = 224 * 160 * 6 * 1 * 4;
  const sh = 448 * 320 * 1 * 4 * 6;
  const ch = 8 * 3;
  const byName = (a: (string | number)[], b: (string | number)[]) => String(a[0]).localeCompare(String(b[0]));
  expect(m.layers.map((l) => [l.name, l.macs]).sort(byName)).toEqual([
    ['encoder.a', ea],
    ['decoder.b', db],
    ['decoder.c', dc],
    ['classification_head.3', ch],
    ['segmentation_head.0', sh],
  ].sort(byName));
  expect(m).toMatchObject({ encoder: ea, decoder: db + dc, segmentationHead: sh, classificationHead: ch, total: ea + db + dc + sh + ch });
  // Another size on the same (dynamic-size) model.
  expect(countMacs(model, [64, 64]).encoder).toBe(32 * 32 * 8 * 9 * 4);
  model.dispose();
});
