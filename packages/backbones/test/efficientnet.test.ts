import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  Conv2d,
  DropConnect,
  UnusedWeights,
  createEncoder,
  encoders,
  isTorchMappable,
  torchShape,
  type TorchParam,
} from '@busi/core';
import {
  EFFICIENTNET_VARIANTS,
  EfficientNetEncoder,
  efficientNetArch,
  efficientNetParamCount,
  roundFilters,
  roundRepeats,
  staticSamePadding,
} from '@busi/backbones';
import { registerWasmTrainingKernels } from '@busi/node';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/parity');

function build(name: string, args: Record<string, unknown> = {}, size: [number | null, number | null] = [null, null]) {
  const enc = createEncoder(name, args) as EfficientNetEncoder;
  const input = tfl.input({ shape: [size[0], size[1], enc.inChannels] });
  const features = enc.apply(input);
  const model = tfl.model({ inputs: input, outputs: features.slice(1) });
  return { enc, model, features };
}

function torchParamsOf(model: tfl.LayersModel): TorchParam[] {
  return model.layers.flatMap((l) => (isTorchMappable(l) ? l.torchParams() : []));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('efficientnet architecture', () => {
  test('rounding and the B4 block table follow efficientnet-pytorch 0.7.1', () => {
    expect(roundFilters(32, 1.4)).toBe(48);
    expect(roundFilters(16, 1.4)).toBe(24);
    expect(roundFilters(1280, 1.4)).toBe(1792);
    expect(roundRepeats(3, 1.8)).toBe(6);
    const arch = efficientNetArch(EFFICIENTNET_VARIANTS['efficientnet-b4']);
    expect(arch.blocks).toHaveLength(32);
    expect(arch.stageEnds).toEqual([6, 10, 22, 32]);
    // SE width from the block INPUT channels: block 2 expands 24 -> 144 but squeezes to int(24 / 4) = 6.
    expect(arch.blocks[2]).toMatchObject({ inFilters: 24, expanded: 144, squeezed: 6, stride: 2 });
    expect(arch.blocks[0]).toMatchObject({ hasExpand: false, squeezed: 12, skip: false });
    expect(arch.blocks[1]).toMatchObject({ hasExpand: false, inFilters: 24, skip: true });
  });

  test('registered variants: channels as smp lists them, counts from the architecture', () => {
    const smpChannels: Record<string, number[]> = {
      'efficientnet-b0': [3, 32, 24, 40, 112, 320],
      'efficientnet-b1': [3, 32, 24, 40, 112, 320],
      'efficientnet-b2': [3, 32, 24, 48, 120, 352],
      'efficientnet-b3': [3, 40, 32, 48, 136, 384],
      'efficientnet-b4': [3, 48, 32, 56, 160, 448],
      'efficientnet-b5': [3, 48, 40, 64, 176, 512],
      'efficientnet-b6': [3, 56, 40, 72, 200, 576],
      'efficientnet-b7': [3, 64, 48, 80, 224, 640],
    };
    const smpStageIdxs: Record<string, number[]> = {
      'efficientnet-b0': [3, 5, 9, 16],
      'efficientnet-b1': [5, 8, 16, 23],
      'efficientnet-b2': [5, 8, 16, 23],
      'efficientnet-b3': [5, 8, 18, 26],
      'efficientnet-b4': [6, 10, 22, 32],
      'efficientnet-b5': [8, 13, 27, 39],
      'efficientnet-b6': [9, 15, 31, 45],
      'efficientnet-b7': [11, 18, 38, 55],
    };
    for (const [name, channels] of Object.entries(smpChannels)) {
      expect(encoders.info(name).outChannels).toEqual(channels);
      expect(encoders.info(name).family).toBe('efficientnet');
      expect(efficientNetArch(EFFICIENTNET_VARIANTS[name]).stageEnds).toEqual(smpStageIdxs[name]);
      // Everywhere but smp's B0 table, the levels end at the stride changes.
      const derived = efficientNetArch({ ...EFFICIENTNET_VARIANTS[name], stageEnds: undefined }).stageEnds;
      if (name !== 'efficientnet-b0') expect(derived).toEqual(smpStageIdxs[name]);
    }
    expect(efficientNetArch({ ...EFFICIENTNET_VARIANTS['efficientnet-b0'], stageEnds: undefined }).stageEnds).toEqual([3, 5, 11, 16]);
    expect(encoders.info('efficientnet-b4').params).toBe(17_548_616);
    expect(efficientNetParamCount(efficientNetArch(EFFICIENTNET_VARIANTS['efficientnet-b4']), 3, false)).toBe(16_742_216);
  });

  test('static same padding is computed for the native size (380 for B4), not the input', () => {
    expect(staticSamePadding(380, 3, 2)).toEqual([0, 1]);
    // Block 6 (5x5 s2): 95 px at 380 pads (2, 2), where TF "same" at a 448 input (112 px) would pad (1, 2).
    expect(staticSamePadding(95, 5, 2)).toEqual([2, 2]);
    expect(staticSamePadding(112, 5, 2)).toEqual([1, 2]);
    const { model } = build('efficientnet-b4');
    const conv = (n: string) => model.getLayer(n) as Conv2d;
    expect(conv('encoder._conv_stem').padding).toEqual([0, 1, 0, 1]);
    expect(conv('encoder._blocks.6._depthwise_conv').padding).toEqual([2, 2, 2, 2]);
    expect(conv('encoder._blocks.22._depthwise_conv').padding).toEqual([1, 2, 1, 2]);
    expect(conv('encoder._blocks.0._depthwise_conv').padding).toEqual([1, 1, 1, 1]);
  });
});

describe('efficientnet-b4 encoder', () => {
  test('parameters and state-dict names/shapes equal the reference, unused head kept by default', () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'Unet__efficientnet-b4.json'), 'utf8'));
    const refEntries = (ref.state_dict as [string, number[], string][]).filter(
      ([n, , dtype]) => n.startsWith('encoder.') && dtype === 'float32',
    );
    const { enc, model } = build('efficientnet-b4');
    expect(enc.countParams()).toBe(ref.counts.encoder);
    const ours = torchParamsOf(model).map((p): [string, number[]] => [p.name, torchShape(p.variable.shape as number[], p.layout)]);
    expect(new Map(ours)).toEqual(new Map(refEntries.map(([n, s]) => [n, s])));

    const lean = createEncoder('efficientnet-b4', { keepHead: false }) as EfficientNetEncoder;
    expect(lean.countParams()).toBe(ref.counts.encoder - ref.counts.unused);
    const b0 = createEncoder('efficientnet-b0', { inChannels: 1 }) as EfficientNetEncoder;
    expect(b0.countParams()).toBe(efficientNetParamCount(b0.arch, 1));
  });

  test('feature shapes at strides 2..32 (OS32) and 2..16 (OS16), inChannels 1', () => {
    const os32 = build('efficientnet-b4', {}, [96, 128]);
    expect(os32.features.map((f) => f.shape)).toEqual([
      [null, 96, 128, 3],
      [null, 48, 64, 48],
      [null, 24, 32, 32],
      [null, 12, 16, 56],
      [null, 6, 8, 160],
      [null, 3, 4, 448],
    ]);
    const os16 = build('efficientnet-b4', { outputStride: 16, inChannels: 1 }, [96, 128]);
    expect(os16.enc.reductions).toEqual([1, 2, 4, 8, 16, 16]);
    expect(os16.enc.outChannels[0]).toBe(1);
    expect(os16.features[5].shape).toEqual([null, 6, 8, 448]);
    const dw = os16.model.getLayer('encoder._blocks.22._depthwise_conv') as Conv2d;
    expect([dw.strides, dw.dilation, dw.padding]).toEqual([[1, 1], 2, [4, 4, 4, 4]]);
    const dw31 = os16.model.getLayer('encoder._blocks.31._depthwise_conv') as Conv2d;
    expect(dw31.padding).toEqual([2, 2, 2, 2]);
    const stem = torchParamsOf(os16.model).find((p) => p.name === 'encoder._conv_stem.weight')!;
    expect(stem.variable.shape).toEqual([3, 3, 1, 48]);
    expect(os16.enc.getConfig()).toEqual({
      name: 'efficientnet-b4',
      args: { inChannels: 1, depth: 5, outputStride: 16, prefix: 'encoder', dropConnectRate: 0.2, keepHead: true },
    });
    const shallow = build('efficientnet-b4', { depth: 3 }, [96, 128]);
    expect(shallow.features.map((f) => f.shape[3])).toEqual([3, 48, 32, 56]);
    // smp's encoder keeps every block at depth 3 (it stops running them): held, so the state dict and
    // count are the depth-5 ones; the blocks past level 3 (index 10 on, B4) never run.
    const full = build('efficientnet-b4');
    const names = (m: tfl.LayersModel) => torchParamsOf(m).map((p) => `${p.name} ${torchShape(p.variable.shape as number[], p.layout).join('x')}`).sort();
    expect(names(shallow.model)).toEqual(names(full.model));
    expect(shallow.enc.countParams()).toBe(full.enc.countParams());
    expect(shallow.model.layers.some((l) => l.name === 'encoder._blocks.10._depthwise_conv' && l.getClassName() === 'BusiUnusedWeights')).toBe(true);
    expect(shallow.model.layers.some((l) => l.name === 'encoder._blocks.9._depthwise_conv' && l.getClassName() === 'BusiConv2d')).toBe(true);
    full.model.dispose();
    shallow.model.dispose();
  });

  test('rejects invalid options', () => {
    expect(() => createEncoder('efficientnet-b4', { depth: 6 })).toThrow(/depth/);
    expect(() => createEncoder('efficientnet-b4', { outputStride: 4 as 16 })).toThrow(/outputStride must be 8, 16 or 32/);
    expect(() => createEncoder('efficientnet-b4', { dropConnectRate: 1 })).toThrow(/dropConnectRate/);
    expect(() => createEncoder('efficientnet-b9')).toThrow(/unknown encoder/);
  });
});

describe('DropConnect', () => {
  test('identity in inference; per-sample keep-or-drop scaled by 1/keep in training; no leaks', () => {
    const layer = new DropConnect({ name: 'dc', rate: 0.25, seed: 7 });
    const x = tf.ones([64, 2, 3, 4]);
    const y0 = layer.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(y0.dataSync())).toEqual(Array.from(x.dataSync()));
    const before = tf.memory().numTensors;
    let kept = 0;
    for (let step = 0; step < 3; step++) {
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      const v = y.arraySync() as number[][][][];
      for (const sample of v) {
        const flat = sample.flat(2);
        // Each sample is dropped or kept as a whole.
        expect(new Set(flat).size).toBe(1);
        expect([0, 1 / 0.75]).toContainEqual(expect.closeTo(flat[0], 5));
        if (flat[0] !== 0) kept++;
      }
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    // 192 draws with keep 0.75: mean 144, sd 6.
    expect(kept).toBeGreaterThan(120);
    expect(kept).toBeLessThan(170);
    // The gradient passes the same per-sample mask: 0 or 1/keep, constant within a sample.
    const g = tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t, { training: true }) as tf.Tensor))(x);
    const gs = g.arraySync() as number[][][][];
    const values = new Set(gs.map((sample) => new Set(sample.flat(2).map((v) => Math.round(v * 1e5))).size));
    expect(values).toEqual(new Set([1]));
    expect(new Set(gs.map((sample) => Math.round(sample[0][0][0] * 1e5)))).toEqual(new Set([0, 133333]));
    const cfg = layer.getConfig();
    expect(new DropConnect(cfg as never).getConfig()).toEqual(cfg);
    expect(() => new DropConnect({ rate: 1 })).toThrow(/rate/);
  });

  test('drop-connect layers exist only on skip blocks with rate 0.2·i/32, and not at dropConnectRate 0', () => {
    const { model } = build('efficientnet-b4');
    const dcs = model.layers.filter((l) => l instanceof DropConnect) as DropConnect[];
    expect(dcs.map((d) => d.name)).toContain('encoder._blocks.31._drop_connect');
    expect(dcs.find((d) => d.name === 'encoder._blocks.31._drop_connect')!.rate).toBeCloseTo((0.2 * 31) / 32, 10);
    expect(dcs.some((d) => d.name === 'encoder._blocks.2._drop_connect')).toBe(false);
    const off = build('efficientnet-b4', { dropConnectRate: 0 });
    expect(off.model.layers.some((l) => l instanceof DropConnect)).toBe(false);
  });
});

describe('serialisation', () => {
  test('UnusedWeights and DropConnect survive a save/load round trip (names, values, config)', async () => {
    const input = tfl.input({ shape: [4, 4, 3] });
    let y = new DropConnect({ name: 'encoder._blocks.1._drop_connect', rate: 0.1, seed: 5 }).apply(input) as tfl.SymbolicTensor;
    y = new UnusedWeights({
      name: 'encoder._bn1',
      held: [
        { suffix: 'weight', shape: [5], init: 'ones' },
        { suffix: 'running_mean', shape: [5], trainable: false },
        { suffix: 'running_var', shape: [5], trainable: false, init: 'ones' },
      ],
    }).apply(y) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: y });
    const params = torchParamsOf(model);
    params.forEach((p, i) => p.variable.write(tf.fill([5], i + 0.5)));
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const reloaded = torchParamsOf(loaded);
    expect(reloaded.map((p) => [p.name, p.variable.trainable])).toEqual([
      ['encoder._bn1.weight', true],
      ['encoder._bn1.running_mean', false],
      ['encoder._bn1.running_var', false],
    ]);
    reloaded.forEach((p, i) => expect(Array.from(p.variable.read().dataSync())).toEqual(new Array(5).fill(i + 0.5)));
    expect(loaded.getLayer('encoder._blocks.1._drop_connect').getConfig()).toMatchObject({ rate: 0.1, seed: 5 });
    const x = tf.randomNormal([1, 4, 4, 3]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
  });
});

describe('efficientnet training (wasm: 1x1 filter gradients take minutes on cpu)', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  test('b0 trains with drop-connect and the unused head: finite loss, no gradient for the head, flat tensor count', () => {
    const { enc, model } = build('efficientnet-b0', { seed: 3 }, [32, 32]);
    expect(enc.keepHead).toBe(true);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 11);
    const opt = tf.train.sgd(1e-3);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const head = torchParamsOf(model).filter((p) => p.name.startsWith('encoder._conv_head') || p.name.startsWith('encoder._bn1.'));
    expect(head.map((p) => p.name).sort()).toEqual(
      ['encoder._bn1.bias', 'encoder._bn1.running_mean', 'encoder._bn1.running_var', 'encoder._bn1.weight', 'encoder._conv_head.weight'],
    );
    const headBefore = head.map((p) => Array.from(p.variable.read().dataSync()));
    const loss = () =>
      tf.tidy(() => {
        const outs = model.apply(x, { training: true }) as tf.Tensor[];
        return tf.add(tf.mean(tf.square(outs[4])), tf.mean(outs[2])) as tf.Scalar;
      });
    const { grads } = tf.variableGrads(loss, vars);
    // The head never runs: no gradient reaches it (tfjs drops those entries).
    for (const p of head) expect(grads[(p.variable.read() as tf.Variable).name]).toBeUndefined();
    expect(Object.keys(grads).length).toBe(vars.length - 3);
    tf.dispose(Object.values(grads));
    let before = 0;
    for (let step = 0; step < 3; step++) {
      if (step === 1) before = tf.memory().numTensors;
      const l = opt.minimize(loss, true, vars)!;
      expect(Number.isFinite(l.dataSync()[0])).toBe(true);
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(head.map((p) => Array.from(p.variable.read().dataSync()))).toEqual(headBefore);
  });
});
