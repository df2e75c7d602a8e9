/**
 * MAnet, Linknet, PSPNet, DeepLabV3, PAN (smp v0.3.3) and UPerNet (smp 0.4.0) built alone on the paper encoders' channel lists:
 * parameter counts equal to the registry's reference facts, those facts equal to the PyTorch
 * fixtures' counts, exactly the fixtures' state-dict names, and the options' errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createDecoder, decoders } from '@busi/core';
import { DeepLabV3Decoder, LinknetDecoder, MAnetDecoder, PANDecoder, PSPNetDecoder, UPerNetDecoder } from '../src';
import { EFFICIENTNET_B4_CHANNELS, RESNET_CHANNELS, decoderStats, fixtureDecoderNames } from './helpers/tiny-encoder';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const FIXTURES = path.resolve(__dirname, '../../../fixtures');
/** Where each decoder's fixtures live (relative to fixtures/), and for which encoders. */
const FIXTURE_SETS: Record<string, { dir: string; encoders: string[] }> = {
  manet: { dir: 'parity-zoo/decoders', encoders: ['resnet50', 'efficientnet-b4'] },
  linknet: { dir: 'parity-zoo/decoders', encoders: ['resnet50', 'efficientnet-b4'] },
  deeplabv3: { dir: 'parity-zoo/decoders', encoders: ['resnet50', 'efficientnet-b4'] },
  pspnet: { dir: 'parity', encoders: ['tu-wide_resnet50_2'] },
  pan: { dir: 'parity', encoders: ['resnet50'] },
  upernet: { dir: 'parity', encoders: ['resnet50', 'efficientnet-b4'] },
};
const CHANNELS: Record<string, number[]> = {
  resnet50: RESNET_CHANNELS,
  'tu-wide_resnet50_2': RESNET_CHANNELS,
  'efficientnet-b4': EFFICIENTNET_B4_CHANNELS,
};

const cases = Object.entries(FIXTURE_SETS).flatMap(([name, set]) => set.encoders.map((e) => [name, e, set.dir] as const));

describe.each(cases)('%s on %s channels', (name, encoder, dir) => {
  const info = decoders.info(name);
  const smpName = info.reference!.name;
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, `${smpName}__${encoder}.json`), 'utf8')) as {
    counts: { decoder: number; segmentation_head: number };
  };

  it('the registry states the fixture’s decoder and head parameter counts', () => {
    expect(info.reference!.params[encoder]).toBe(json.counts.decoder);
    expect(info.reference!.segmentationHeadParams).toBe(json.counts.segmentation_head);
  });

  it('builds exactly the reference decoder: parameter count and state-dict names', () => {
    const depth = info.encoderDepth ?? 5;
    const channels = CHANNELS[encoder].slice(0, depth + 1);
    const stats = decoderStats((f) => createDecoder(name, { encoderChannels: channels }).apply(f), channels);
    expect(stats.params).toBe(json.counts.decoder);
    expect([...stats.names].sort()).toEqual(fixtureDecoderNames(`${smpName}__${encoder}`, dir).sort());
  });
});

test('every decoder of smp v0.3.3 is registered under its smp class name', () => {
  for (const smp of ['Unet', 'UnetPlusPlus', 'MAnet', 'Linknet', 'FPN', 'PSPNet', 'DeepLabV3', 'DeepLabV3Plus', 'PAN']) {
    expect(decoders.has(smp)).toBe(true);
    expect(decoders.info(smp).reference?.name).toBe(smp);
  }
});

test('encoder needs and head settings follow smp', () => {
  const ch = [3, 16, 24, 32, 48, 64];
  const facts = (n: string) => {
    const d = createDecoder(n, { encoderChannels: n === 'pspnet' ? ch.slice(0, 4) : ch });
    const i = decoders.info(n);
    return [i.encoderOutputStride ?? 32, i.encoderDepth ?? 5, d.outputStride, d.headKernelSize];
  };
  expect(facts('manet')).toEqual([32, 5, 1, 3]);
  expect(facts('linknet')).toEqual([32, 5, 1, 1]);
  expect(facts('pspnet')).toEqual([32, 3, 8, 3]);
  expect(facts('deeplabv3')).toEqual([8, 5, 8, 1]);
  expect(facts('pan')).toEqual([16, 5, 4, 3]);
  expect(facts('upernet')).toEqual([32, 5, 4, 1]);
});

test('UPerNet is smp 0.4.0’s (v0.3.3 has none) and holds the lateral conv smp builds on the input feature but never runs', () => {
  expect(decoders.has('UPerNet')).toBe(true);
  expect(decoders.info('upernet').reference).toMatchObject({ library: 'smp', version: '0.4.0', name: 'UPerNet' });
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'parity', 'UPerNet__resnet50.json'), 'utf8')) as { unused: string[]; counts: { unused: number } };
  expect(json.unused.filter((n) => n.startsWith('decoder.'))).toEqual(expect.arrayContaining(['decoder.fpn_stages.4.skip_conv.0.weight']));
  const stats = decoderStats((f) => createDecoder('upernet', { encoderChannels: RESNET_CHANNELS }).apply(f), RESNET_CHANNELS);
  expect(stats.names).toEqual(expect.arrayContaining(['decoder.fpn_stages.4.skip_conv.0.weight', 'decoder.fpn_stages.4.skip_conv.1.running_var']));
  // 3 -> 256 1x1 conv and its BatchNorm: the reference's unused count.
  expect(json.counts.unused).toBe(3 * 256 + 2 * 256);
});

test('bad options fail with messages naming the option', () => {
  const ch = [3, 16, 24, 32, 48, 64];
  expect(() => new MAnetDecoder({ encoderChannels: ch, decoderChannels: [8, 8] })).toThrow(/decoderChannels needs 5 entries/);
  expect(() => new MAnetDecoder({ encoderChannels: ch, pabChannels: 0 })).toThrow(/pabChannels/);
  expect(() => new LinknetDecoder({ encoderChannels: [3, 2, 8] })).toThrow(/at least 4 channels/);
  expect(() => new PSPNetDecoder({ encoderChannels: ch, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
  expect(() => new DeepLabV3Decoder({ encoderChannels: ch, atrousRates: [1, 2] as unknown as [number, number, number] })).toThrow(/atrousRates/);
  expect(() => new PANDecoder({ encoderChannels: [3, 8, 16] })).toThrow(/depth >= 4/);
  expect(() => new UPerNetDecoder({ encoderChannels: [3, 8, 16] })).toThrow(/depth >= 3/);
  expect(() => new UPerNetDecoder({ encoderChannels: ch, pyramidChannels: 0 })).toThrow(/pyramidChannels must be a positive integer/);
  expect(() => new UPerNetDecoder({ encoderChannels: ch, segmentationChannels: 1.5 })).toThrow(/segmentationChannels/);
});
