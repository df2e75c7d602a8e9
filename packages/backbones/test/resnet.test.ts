import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2d, createEncoder, encoders, torchShape, type Encoder, type TorchParam } from '@busi/core';
import { RESNET_VARIANTS } from '../src';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/parity');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function build(encoder: Encoder, size: [number | null, number | null] = [null, null]) {
  const input = tfl.input({ shape: [size[0], size[1], encoder.outChannels[0]] });
  const features = encoder.apply(input);
  const model = tfl.model({ inputs: input, outputs: features.slice(1) });
  const params: TorchParam[] = [];
  for (const layer of model.layers) {
    const tp = (layer as unknown as { torchParams?: () => TorchParam[] }).torchParams;
    if (tp) params.push(...tp.call(layer));
  }
  const count = params.filter((p) => p.variable.trainable).reduce((a, p) => a + p.variable.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
  return { model, features, params, count };
}

function fixtureEncoderEntries(fixture: string): Map<string, number[]> {
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${fixture}.json`), 'utf8')) as { state_dict: [string, number[], string][] };
  return new Map(json.state_dict.filter(([n, , dt]) => n.startsWith('encoder.') && dt.startsWith('float')).map(([n, s]) => [n, s]));
}

describe('registration', () => {
  const names = Object.keys(RESNET_VARIANTS);
  it('registers every ResNet variant, and tu- aliases for the timm-only Wide ResNets', () => {
    for (const n of names) expect(encoders.has(n)).toBe(true);
    expect(encoders.has('tu-wide_resnet50_2')).toBe(true);
    expect(encoders.has('tu-wide_resnet101_2')).toBe(true);
    expect(encoders.info('resnet18').outChannels).toEqual([3, 64, 64, 128, 256, 512]);
    expect(encoders.info('resnext50_32x4d').outChannels).toEqual([3, 64, 256, 512, 1024, 2048]);
    expect(encoders.info('wide_resnet50_2')).toMatchObject({ family: 'resnet', params: 66_834_240 });
  });

  it('reproduces the reference parameter counts exactly', () => {
    // architectures.md: resnet50 23,508,032; resnext50_32x4d 22,979,904; wide_resnet50_2 66,834,240.
    expect(RESNET_VARIANTS.resnet50.params).toBe(23_508_032);
    expect(RESNET_VARIANTS.resnext50_32x4d.params).toBe(22_979_904);
    expect(RESNET_VARIANTS.wide_resnet50_2.params).toBe(66_834_240);
    for (const n of ['resnet18', 'resnet34', 'resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2']) {
      const { model, count, features } = build(createEncoder(n));
      expect({ n, count }).toEqual({ n, count: encoders.info(n).params });
      expect(features.map((f) => f.shape[3])).toEqual(encoders.info(n).outChannels);
      model.dispose();
    }
  });
});

describe.each([
  ['Unet__resnet50', 'resnet50'],
  ['Unet__resnext50_32x4d', 'resnext50_32x4d'],
  ['Unet__tu-wide_resnet50_2', 'tu-wide_resnet50_2'],
])('%s', (fixture, name) => {
  it('has exactly the reference encoder state-dict names and PyTorch shapes', () => {
    const { model, params } = build(createEncoder(name));
    const ours = new Map(params.map((p) => [p.name, torchShape(p.variable.shape as number[], p.layout)]));
    const ref = fixtureEncoderEntries(fixture);
    expect([...ours.keys()].sort()).toEqual([...ref.keys()].sort());
    for (const [k, s] of ref) expect({ k, s: ours.get(k) }).toEqual({ k, s });
    model.dispose();
  });
});

describe('feature shapes', () => {
  it('returns depth+1 features at strides 1..32 on non-square inputs, and runs', () => {
    const enc = createEncoder('resnet18');
    expect(enc.reductions).toEqual([1, 2, 4, 8, 16, 32]);
    expect(enc.featureNames).toEqual(['input', 'stride2', 'stride4', 'stride8', 'stride16', 'stride32']);
    const { model } = build(enc);
    for (const [h, w] of [
      [64, 96],
      [96, 64],
      [32, 32],
    ]) {
      const outs = model.predict(tf.randomNormal([1, h, w, 3])) as tf.Tensor[];
      expect(outs.map((o) => o.shape)).toEqual(enc.reductions.slice(1).map((r, i) => [1, h / r, w / r, enc.outChannels[i + 1]]));
      tf.dispose(outs);
    }
    model.dispose();
  });

  it.each([1, 2, 3, 4])('depth %i runs only the first stages and holds the others unused, as smp does', (depth) => {
    const enc = createEncoder('resnet50', { depth });
    expect(enc.outChannels).toEqual([3, 64, 256, 512, 1024].slice(0, depth + 1));
    expect(enc.outputStride).toBe(2 ** depth);
    const { model, features, params, count } = build(enc, [64, 64]);
    expect(features.map((f) => f.shape)).toEqual(enc.outChannels.map((c, i) => [null, 64 / 2 ** i, 64 / 2 ** i, c]));
    // depth d runs up to layer(d-1) (smp's stage d is maxpool+layer1 for d = 2); layer d.. are held, never run.
    const run = (n: number) => model.layers.some((l) => l.getClassName() === 'BusiConv2d' && l.name.startsWith(`encoder.layer${n}.`));
    if (depth > 1) expect(run(depth - 1)).toBe(true);
    expect(run(depth)).toBe(false);
    expect(model.layers.filter((l) => l.getClassName() === 'BusiUnusedWeights').map((l) => l.name)).toEqual(
      [1, 2, 3, 4].filter((n) => n >= depth).map((n) => `encoder.layer${n}`),
    );
    // smp's torchvision encoder keeps every stage: the same state dict and count as at depth 5.
    const names = new Map(params.map((p) => [p.name, torchShape(p.variable.shape as number[], p.layout)]));
    const ref = fixtureEncoderEntries('Unet__resnet50');
    expect([...names.keys()].sort()).toEqual([...ref.keys()].sort());
    for (const [k, shape] of ref) expect({ k, shape: names.get(k) }).toEqual({ k, shape });
    expect(count).toBe(encoders.info('resnet50').params);
    model.dispose();
  });

  it('a timm-style encoder at depth 3 holds nothing past its stages (timm prunes them, in smp too)', () => {
    const { model, params } = build(createEncoder('tu-wide_resnet50_2', { depth: 3 }), [64, 64]);
    expect(params.some((p) => p.name.startsWith('encoder.model.layer3.'))).toBe(false);
    expect(model.layers.some((l) => l.getClassName() === 'BusiUnusedWeights')).toBe(false);
    model.dispose();
  });

  it('inChannels changes only the stem conv', () => {
    const enc = createEncoder('resnet18', { inChannels: 1 });
    expect(enc.outChannels[0]).toBe(1);
    const { model, params, count } = build(enc);
    expect(params.find((p) => p.name === 'encoder.conv1.weight')!.variable.shape).toEqual([7, 7, 1, 64]);
    expect(count).toBe(RESNET_VARIANTS.resnet18.params - 2 * 64 * 49);
    model.dispose();
  });

  it('getConfig() holds every argument and rebuilds the same encoder', () => {
    const enc = createEncoder('tu-wide_resnet50_2', { inChannels: 2, depth: 3, outputStride: 16, prefix: 'enc' });
    const cfg = enc.getConfig();
    expect(cfg).toEqual({ name: 'tu-wide_resnet50_2', args: { inChannels: 2, depth: 3, outputStride: 16, prefix: 'enc' } });
    const again = createEncoder(cfg.name, cfg.args);
    expect(again.getConfig()).toEqual(cfg);
    expect(again.outChannels).toEqual(enc.outChannels);
    const { model, params } = build(again);
    expect(params[0].name).toBe('enc.model.conv1.weight');
    model.dispose();
  });

  it('rejects invalid options with clear errors', () => {
    expect(() => createEncoder('resnet18', { depth: 0 })).toThrow(/depth must be an integer in 1\.\.5/);
    expect(() => createEncoder('resnet18', { depth: 6 })).toThrow(/depth/);
    expect(() => createEncoder('resnet18', { outputStride: 4 as 16 })).toThrow(/outputStride must be 8, 16 or 32/);
    expect(() => createEncoder('resnet18', { inChannels: 0 })).toThrow(/inChannels/);
  });
});

describe('output stride 16 (DeepLabV3+)', () => {
  const conv = (m: tfl.LayersModel, name: string) => m.getLayer(name) as unknown as Conv2d;
  const desc = (c: Conv2d) => ({ strides: c.strides, dilation: c.dilation, padding: c.padding });
  const plain = { strides: [1, 1], dilation: 1, padding: [1, 1, 1, 1] };
  const dilated = { strides: [1, 1], dilation: 2, padding: [2, 2, 2, 2] };

  it('native (smp make_dilated): every layer4 3x3 conv at rate 2, downsample stride 1', () => {
    const enc = createEncoder('resnet50', { outputStride: 16 });
    expect(enc.reductions).toEqual([1, 2, 4, 8, 16, 16]);
    const { model, features } = build(enc, [64, 96]);
    expect(features[5].shape).toEqual([null, 4, 6, 2048]);
    for (const b of [0, 1, 2]) expect(desc(conv(model, `encoder.layer4.${b}.conv2`))).toEqual(dilated);
    expect(conv(model, 'encoder.layer4.0.downsample.0').strides).toEqual([1, 1]);
    expect(desc(conv(model, 'encoder.layer3.0.conv2'))).toEqual({ ...plain, strides: [2, 2] });
    model.dispose();
  });

  it('native BasicBlock: both convs of every layer4 block dilated', () => {
    const { model } = build(createEncoder('resnet18', { outputStride: 16 }));
    for (const c of ['0.conv1', '0.conv2', '1.conv1', '1.conv2']) expect(desc(conv(model, `encoder.layer4.${c}`))).toEqual(dilated);
    model.dispose();
  });

  it('timm (tu-wide_resnet50_2): layer4 block 0 conv2 stays at rate 1, the rest at rate 2', () => {
    const { model, features } = build(createEncoder('tu-wide_resnet50_2', { outputStride: 16 }), [64, 96]);
    expect(features[5].shape).toEqual([null, 4, 6, 2048]);
    expect(desc(conv(model, 'encoder.model.layer4.0.conv2'))).toEqual(plain);
    expect(desc(conv(model, 'encoder.model.layer4.1.conv2'))).toEqual(dilated);
    expect(desc(conv(model, 'encoder.model.layer4.2.conv2'))).toEqual(dilated);
    expect(conv(model, 'encoder.model.layer4.0.downsample.0').strides).toEqual([1, 1]);
    model.dispose();
  });
});
