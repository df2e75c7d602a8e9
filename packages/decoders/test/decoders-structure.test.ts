import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@busi/node';
import * as tfl from '@tensorflow/tfjs-layers';
import { MultiTaskModel, createDecoder, decoders } from '@busi/core';
import { DeepLabV3PlusDecoder, FPNDecoder, UnetPlusPlusDecoder } from '../src';
import {
  EFFICIENTNET_B4_CHANNELS,
  RESNET_CHANNELS,
  decoderStats,
  fixtureDecoderNames,
  tinyEncoder,
} from './helpers/tiny-encoder';

// wasm with the busi training kernels: the cpu backend's conv filter gradient makes even tiny models slow.
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

// Decoder parameter counts of smp v0.3.3 (architectures.md), from the channel lists alone.
const reference: Array<[string, string, number[], number]> = [
  ['unetplusplus', 'UnetPlusPlus', RESNET_CHANNELS, 25_477_568],
  ['unetplusplus', 'UnetPlusPlus', EFFICIENTNET_B4_CHANNELS, 3_264_352],
  ['fpn', 'FPN', RESNET_CHANNELS, 2_607_872],
  ['fpn', 'FPN', EFFICIENTNET_B4_CHANNELS, 1_803_008],
  ['deeplabv3plus', 'DeepLabV3Plus', RESNET_CHANNELS, 3_169_296],
  ['deeplabv3plus', 'DeepLabV3Plus', EFFICIENTNET_B4_CHANNELS, 1_067_344],
];

describe.each(reference)('%s decoder on channels %#', (name, fixtureName, channels, params) => {
  it(`has the reference parameter count and exactly the reference state-dict names`, () => {
    const stats = decoderStats((f) => createDecoder(name, { encoderChannels: channels }).apply(f), channels);
    expect(stats.params).toBe(params);
    const encoder = channels === RESNET_CHANNELS ? 'resnet50' : 'efficientnet-b4';
    expect([...stats.names].sort()).toEqual(fixtureDecoderNames(`${fixtureName}__${encoder}`).sort());
  });
});

it("Unet++ with SCSE attention has smp's parameters, incl. the never-run attention1 of x_0_4", () => {
  // [in + skip, out] of each block on EfficientNet-B4 channels; smp adds SCSE(in + skip) and SCSE(out).
  const blocks = [[608, 256], [368, 128], [216, 56], [224, 64], [120, 32], [88, 32], [256, 32], [176, 48], [128, 48], [80, 48], [32, 16]];
  const scse = (c: number) => 2 * c * Math.floor(c / 16) + Math.floor(c / 16) + c + c + 1;
  const extra = blocks.reduce((s, [i, o]) => s + scse(i) + scse(o), 0);
  const stats = decoderStats(
    (f) => createDecoder('unet++', { encoderChannels: EFFICIENTNET_B4_CHANNELS, attentionType: 'scse' }).apply(f),
    EFFICIENTNET_B4_CHANNELS,
  );
  expect(stats.params).toBe(3_264_352 + extra);
  expect(stats.names).toEqual(expect.arrayContaining([
    'decoder.blocks.x_0_4.attention1.attention.cSE.1.weight',
    'decoder.blocks.x_0_4.attention1.attention.sSE.0.bias',
    'decoder.blocks.x_1_2.attention2.attention.cSE.3.weight',
  ]));
});

describe('decoder registration and options', () => {
  it('registers unetplusplus (alias unet++), fpn and deeplabv3plus (encoder output stride 16)', () => {
    expect(decoders.has('unet++')).toBe(true);
    expect(decoders.info('UnetPlusPlus').encoderOutputStride).toBe(32);
    expect(decoders.info('fpn').encoderOutputStride).toBe(32);
    expect(decoders.info('deeplabv3plus').encoderOutputStride).toBe(16);
  });

  it('exposes output stride and head kernel size, and rebuilds from getConfig()', () => {
    const ch = [3, 8, 16, 24, 32, 40];
    const cases: Array<[string, number, number, number]> = [
      ['unetplusplus', 1, 3, 16],
      ['fpn', 4, 1, 128],
      ['deeplabv3plus', 4, 1, 256],
    ];
    for (const [name, stride, k, out] of cases) {
      const d = createDecoder(name, { encoderChannels: ch });
      expect([d.outputStride, d.headKernelSize, d.outChannels]).toEqual([stride, k, out]);
      const cfg = d.getConfig();
      const again = createDecoder(cfg.name, cfg.args as { encoderChannels: number[] });
      expect(again.getConfig()).toEqual(cfg);
    }
    expect(new FPNDecoder({ encoderChannels: ch, mergePolicy: 'cat' }).outChannels).toBe(512);
  });

  it('rejects bad options with clear messages', () => {
    const ch = [3, 8, 16, 24, 32, 40];
    expect(() => new UnetPlusPlusDecoder({ encoderChannels: ch, decoderChannels: [32, 16] })).toThrow(/decoderChannels has 2/);
    expect(() => new FPNDecoder({ encoderChannels: ch, mergePolicy: 'max' as 'add' })).toThrow(/mergePolicy/);
    expect(() => new FPNDecoder({ encoderChannels: ch, segmentationChannels: 100 })).toThrow(/multiple of 32/);
    expect(() => new FPNDecoder({ encoderChannels: ch, dropout: 1 })).toThrow(/dropout/);
    expect(() => new DeepLabV3PlusDecoder({ encoderChannels: ch, outputStride: 8 as 16 })).toThrow(/outputStride must be 16/);
  });

  it('Dropout2d zeroes whole channels in training and nothing in inference', () => {
    const ch = [3, 8, 16, 24, 32, 40];
    const inputs = ch.map((c, i) => tfl.input({ shape: [2 ** (5 - i) * 2, 2 ** (5 - i) * 2, c] }));
    const d = new FPNDecoder({ encoderChannels: ch, dropout: 0.5, segmentationChannels: 64 });
    const model = tfl.model({ inputs, outputs: d.apply(inputs) });
    const drop = model.getLayer('decoder.dropout');
    const x = tf.ones([2, 8, 8, 64]);
    const y = drop.apply(x, { training: true }) as tf.Tensor;
    const perChannel = tf.tidy(() => {
      const v = y.arraySync() as number[][][][];
      // Every channel of a sample is all-zero or all-2 (scaled by 1/(1-p)).
      return v.flatMap((img) =>
        Array.from({ length: 64 }, (_, c) => new Set(img.flatMap((row) => row.map((px) => px[c]))).size),
      );
    });
    expect(perChannel.every((n) => n === 1)).toBe(true);
    const yd = y.dataSync();
    expect(yd.some((v) => v === 0) && yd.some((v) => v === 2)).toBe(true);
    const yEval = drop.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(yEval.dataSync()).every((v) => v === 1)).toBe(true);
    tf.dispose([x, y, yEval]);
    model.dispose();
  });
});

describe.each(['unetplusplus', 'unet++', 'fpn', 'deeplabv3plus'])('%s in a MultiTaskModel with a tiny encoder', (name) => {
  const stride = name === 'deeplabv3plus' ? 16 : 32;
  // Dropout off (the entry's deterministicArgs) so that the loss curve is deterministic; 'unet++' also exercises SCSE attention.
  const channels = name === 'unet++' ? [3, 16, 32, 32, 48, 64] : [3, 8, 16, 24, 32, 40];
  const options: Record<string, Record<string, unknown>> = {
    fpn: { pyramidChannels: 32, segmentationChannels: 32 },
    deeplabv3plus: { decoderChannels: 16 },
    unetplusplus: { decoderChannels: [32, 16, 8, 8, 4] },
    'unet++': { decoderChannels: [32, 32, 16, 16, 16], attentionType: 'scse' },
  };
  const build = () =>
    new MultiTaskModel({
      classificationHead: { dropout: 0 },
      encoder: tinyEncoder(channels, stride),
      decoder: createDecoder(name, { encoderChannels: channels, ...decoders.info(name).deterministicArgs, ...options[name] }),
      classes: 3,
    });

  it('gives a full-size mask and class logits on a non-square input', () => {
    const model = build();
    const x = tf.randomNormal([2, 64, 96, 3]) as tf.Tensor4D;
    const { mask, logits } = model.predict(x);
    expect(mask.shape).toEqual([2, 64, 96, 1]);
    expect(logits.shape).toEqual([2, 3]);
    expect(Number.isFinite(tf.sum(mask).dataSync()[0])).toBe(true);
    tf.dispose([x, mask, logits]);
    model.dispose();
  });

  it('saves and loads (every layer registered) with identical predictions', async () => {
    const model = build();
    const x = tf.randomNormal([2, 32, 64, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await MultiTaskModel.load(tf.io.fromMemory(artifacts!));
    expect(loaded.config.decoder).toEqual(model.config.decoder);
    const a = model.predict(x);
    const b = loaded.predict(x);
    expect(tf.max(tf.abs(tf.sub(a.mask, b.mask))).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(tf.sub(a.logits, b.logits))).dataSync()[0]).toBe(0);
    tf.dispose([x, a.mask, a.logits, b.mask, b.logits]);
    model.dispose();
    loaded.dispose();
  });

  it('trains: the loss falls and the tensor count stays flat across steps', () => {
    const model = build();
    const x = tf.randomNormal([2, 32, 64, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const target = tf.tidy(() => tf.cast(tf.greater(tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 1]), 0), 'float32'));
    const opt = tf.train.adam(1e-2);
    const loss = () =>
      tf.tidy(() => {
        const { mask, logits } = model.forward(x, true);
        return tf.add(tf.losses.sigmoidCrossEntropy(target, mask), tf.mul(tf.mean(tf.square(logits)), 0.1)) as tf.Scalar;
      });
    const step = () => {
      const l = opt.minimize(loss, true, model.trainableVariables())!;
      const v = l.dataSync()[0];
      l.dispose();
      return v;
    };
    const first = step();
    const count = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 4; i++) last = step();
    expect(tf.memory().numTensors).toBe(count);
    expect(last).toBeLessThan(first);
    tf.dispose([x, target]);
    opt.dispose();
    model.dispose();
  });
});

it('DeepLabV3+ training on a batch of one fails with a clear message (image-pooling BatchNorm)', () => {
  const model = new MultiTaskModel({
    encoder: tinyEncoder([3, 8, 16, 24, 32, 40], 16),
    decoder: { name: 'deeplabv3plus', decoderChannels: 16 },
  });
  const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  expect(() => model.forward(x, true)).toThrow(/batch size > 1/);
  const { mask } = model.predict(x); // inference on one image is fine
  expect(mask.shape).toEqual([1, 32, 32, 1]);
  tf.dispose([x, mask]);
  model.dispose();
});
