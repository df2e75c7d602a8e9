import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2d, MultiTaskModel, createDecoder, decoders } from '@busi/core';
import { UnetDecoder, decoderConformanceChecks, scse } from '../src';
import { EFFICIENTNET_B4_CHANNELS, RESNET_CHANNELS, decoderStats, fixtureDecoderNames, tinyEncoder } from './helpers/tiny-encoder';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const unet = (channels: number[], args: Record<string, unknown> = {}) => (f: tfl.SymbolicTensor[]) =>
  createDecoder('unet', { encoderChannels: channels, ...args }).apply(f);

describe('unet decoder structure', () => {
  it.each([
    ['resnet50', RESNET_CHANNELS, 9_012_928],
    ['efficientnet-b4', EFFICIENTNET_B4_CHANNELS, 2_676_928],
  ])('on %s channels: reference parameter count and exactly the fixture state-dict names', (encoder, channels, params) => {
    const stats = decoderStats(unet(channels), channels);
    expect(stats.params).toBe(params);
    expect([...stats.names].sort()).toEqual(fixtureDecoderNames(`Unet__${encoder}`).sort());
  });

  it('scSE attention adds smp SCSEModule weights (reduction 16) after the concat and after each block', () => {
    const stats = decoderStats(unet(RESNET_CHANNELS, { attentionType: 'scse' }), RESNET_CHANNELS);
    const scseParams = (c: number) => {
      const r = Math.floor(c / 16);
      return c * r + r + r * c + c + c + 1;
    };
    const att1 = [2048 + 1024, 256 + 512, 128 + 256, 64 + 64, 32];
    const att2 = [256, 128, 64, 32, 16];
    expect(stats.params).toBe(9_012_928 + [...att1, ...att2].reduce((a, c) => a + scseParams(c), 0));
    expect(stats.names).toEqual(
      expect.arrayContaining([
        'decoder.blocks.0.attention1.attention.cSE.1.weight',
        'decoder.blocks.0.attention1.attention.cSE.3.bias',
        'decoder.blocks.4.attention2.attention.sSE.0.weight',
      ]),
    );
  });

  it("runs attention1 only where there is a skip, as smp: the last block's is built but never used", () => {
    const ch = [3, 16, 32, 32, 48, 64];
    const inputs = ch.map((c, i) => tfl.input({ shape: [2 ** (5 - i) * 2, 2 ** (5 - i) * 2, c] }));
    const d = new UnetDecoder({ encoderChannels: ch, decoderChannels: [32, 32, 32, 32, 32], attentionType: 'scse' });
    const model = tfl.model({ inputs, outputs: d.apply(inputs) });
    const feats = ch.map((c, i) => tf.randomNormal([1, 2 ** (5 - i) * 2, 2 ** (5 - i) * 2, c]));
    const run = () => tf.tidy(() => Array.from((model.predict(feats) as tf.Tensor).dataSync()));
    const perturb = (layer: string) => {
      const l = model.getLayer(layer);
      const w = l.getWeights().map((t) => tf.add(t, tf.randomNormal(t.shape)));
      l.setWeights(w);
      tf.dispose(w);
    };
    const before = run();
    perturb('decoder.blocks.4.attention1.attention.cSE.1');
    perturb('decoder.blocks.4.attention1.attention.sSE.0');
    expect(run()).toEqual(before);
    perturb('decoder.blocks.3.attention1.attention.sSE.0');
    expect(run()).not.toEqual(before);
    tf.dispose(feats);
    model.dispose();
  });

  it('useBatchnorm false gives biased convs and no BatchNorm', () => {
    const stats = decoderStats(unet(RESNET_CHANNELS, { useBatchnorm: false }), RESNET_CHANNELS);
    expect(stats.names).toContain('decoder.blocks.0.conv1.0.bias');
    expect(stats.names.some((n) => n.includes('conv1.1.'))).toBe(false);
    // Each BN's 2 affine parameters per channel are replaced by 1 bias per channel.
    expect(stats.params).toBe(9_012_928 - 2 * [256, 128, 64, 32, 16].reduce((a, c) => a + c, 0));
  });

  it('builds one block per encoder stage and checks decoderChannels against the depth', () => {
    const d = new UnetDecoder({ encoderChannels: [3, 64, 256, 512] });
    expect(d.options.decoderChannels).toEqual([256, 128, 64]);
    expect(d.outChannels).toBe(64);
    expect(() => new UnetDecoder({ encoderChannels: [3, 64, 256, 512], decoderChannels: [32, 16] })).toThrow(
      /depth 3, so decoderChannels needs 3 entries, got 2/,
    );
    expect(() => new UnetDecoder({ encoderChannels: RESNET_CHANNELS, attentionType: 'cbam' as 'scse' })).toThrow(/attentionType/);
    expect(() => new UnetDecoder({ encoderChannels: [3] })).toThrow(/encoderChannels/);
  });

  it('is registered with output stride 1 and head kernel 3, and rebuilds from getConfig()', () => {
    expect(decoders.has('unet')).toBe(true);
    expect(decoders.info('unet').encoderOutputStride ?? 32).toBe(32);
    const d = createDecoder('unet', { encoderChannels: RESNET_CHANNELS, decoderChannels: [64, 32, 16, 8, 8], attentionType: 'scse' });
    expect([d.outputStride, d.headKernelSize, d.outChannels]).toEqual([1, 3, 8]);
    const cfg = d.getConfig();
    expect(cfg).toEqual({
      name: 'unet',
      args: { encoderChannels: RESNET_CHANNELS, decoderChannels: [64, 32, 16, 8, 8], useBatchnorm: true, attentionType: 'scse', prefix: 'decoder' },
    });
    expect(createDecoder(cfg.name, cfg.args as never).getConfig()).toEqual(cfg);
    // smp's Unet has no dropout: any rate, 0 included, is refused rather than silently ignored (deterministic
    // option sets come from each entry's deterministicArgs, and Unet's has none).
    expect(() => createDecoder('unet', { encoderChannels: RESNET_CHANNELS, dropout: 0.3 })).toThrow(/unet: smp's Unet decoder has no dropout, got dropout 0.3/);
    expect(() => createDecoder('unet', { encoderChannels: RESNET_CHANNELS, dropout: 0 })).toThrow(/unet: smp's Unet decoder has no dropout, got dropout 0/);
    expect(decoders.info('unet').deterministicArgs).toBeUndefined();
  });
});

describe('unet forward', () => {
  it('gives full-resolution masks on non-square inputs; no dropout layer', () => {
    const m = new MultiTaskModel({
      encoder: tinyEncoder(),
      decoder: { name: 'unet', decoderChannels: [32, 16, 16, 8, 8] },
      classificationHead: { dropout: 0 },
    });
    expect(m.model.layers.some((l) => l.name.startsWith('decoder') && /dropout/i.test(l.getClassName()))).toBe(false);
    for (const [h, w] of [
      [64, 96],
      [96, 32],
    ]) {
      const { mask, logits } = m.predict(tf.randomNormal([2, h, w, 3]) as tf.Tensor4D);
      expect(mask.shape).toEqual([2, h, w, 1]);
      expect(logits.shape).toEqual([2, 3]);
      tf.dispose([mask, logits]);
    }
    m.dispose();
  });

  it('scse computes x·sigmoid(W2·relu(W1·mean(x)+b1)+b2) + x·sigmoid(ws·x+bs)', () => {
    const input = tfl.input({ shape: [4, 6, 32] });
    const model = tfl.model({ inputs: input, outputs: scse(input, 'a') });
    const x = tf.randomNormal([2, 4, 6, 32]);
    // Non-zero biases, so a dropped bias shows.
    for (const name of ['a.cSE.1', 'a.cSE.3', 'a.sSE.0']) {
      const layer = model.getLayer(name);
      const bias = tf.randomNormal(layer.getWeights()[1].shape);
      layer.setWeights([layer.getWeights()[0], bias]);
      bias.dispose();
    }
    // getWeights() returns the variables' own tensors: not to be disposed here.
    const w = (name: string) => model.getLayer(name).getWeights();
    const [w1, b1n] = w('a.cSE.1');
    const [w2, b2n] = w('a.cSE.3');
    const [ws, bsn] = w('a.sSE.0');
    const want = tf.tidy(() => {
      const m = tf.mean(x, [1, 2]);
      const h = tf.relu(tf.add(tf.matMul(m, tf.reshape(w1, [32, 2])), b1n));
      const c = tf.sigmoid(tf.add(tf.matMul(h, tf.reshape(w2, [2, 32])), b2n));
      const s = tf.sigmoid(tf.add(tf.conv2d(x as tf.Tensor4D, ws as tf.Tensor4D, 1, 'valid'), bsn));
      return tf.add(tf.mul(x, tf.reshape(c, [2, 1, 1, 32])), tf.mul(x, s));
    });
    const got = model.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, want, got]);
    model.dispose();
  });

  it('scse refuses fewer channels than its reduction', () => {
    expect(() => scse(tfl.input({ shape: [4, 4, 8] }), 'a')).toThrow(/at least 16 channels/);
  });
});

describe('unet variants through the shared decoder contract (cpu, no training check)', () => {
  const variants: Record<string, unknown>[] = [
    { attentionType: 'scse', decoderChannels: [32, 16, 16, 16, 16] },
    { useBatchnorm: false, decoderChannels: [16, 16, 8, 8, 4] },
  ];
  describe.each(variants)('%j', (args) => {
    const checks = decoderConformanceChecks('unet', { args, sizes: [[32, 64]] }).filter((c) => !c.name.startsWith('training'));
    test.each(checks.map((c) => [c.name, c] as const))('%s', async (_label, check) => {
      await check.run();
    });
  });
});
