import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, Linear } from '../../src';
import {
  applyParityFill,
  collectTorchParams,
  exportStateDict,
  loadStateDict,
  loadStateDictSafetensors,
  saveStateDictSafetensors,
  type StateDict,
} from '../../src/io/state-dict';
import { parityFill } from '../../src/parity/fill';
import { writeSafetensors } from '../../src/io/safetensors';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** conv(3→4, 3x3) → bn → grouped conv(4→6, groups 2, 3x2 kernel) → bn → avg pool → linear(6→3). */
function smallModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 5, 3] });
  let y = new Conv2d({ name: 'encoder.conv1', filters: 4, kernelSize: 3, padding: 1, useBias: false }).apply(x) as tfl.SymbolicTensor;
  y = new BatchNorm2d({ name: 'encoder.bn1' }).apply(y) as tfl.SymbolicTensor;
  y = new Conv2d({ name: 'encoder.layer1.0.conv2', filters: 6, kernelSize: [3, 2], padding: [1, 1], groups: 2 }).apply(y) as tfl.SymbolicTensor;
  y = new BatchNorm2d({ name: 'encoder.layer1.0.bn2' }).apply(y) as tfl.SymbolicTensor;
  const mask = y;
  y = tfl.layers.globalAveragePooling2d({ name: 'classification_head.0' }).apply(y) as tfl.SymbolicTensor;
  const logits = new Linear({ name: 'classification_head.3', units: 3 }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: [mask, logits] });
}

const TORCH_SHAPES: Record<string, number[]> = {
  'encoder.conv1.weight': [4, 3, 3, 3],
  'encoder.bn1.weight': [4],
  'encoder.bn1.bias': [4],
  'encoder.bn1.running_mean': [4],
  'encoder.bn1.running_var': [4],
  'encoder.layer1.0.conv2.weight': [6, 2, 3, 2],
  'encoder.layer1.0.conv2.bias': [6],
  'encoder.layer1.0.bn2.weight': [6],
  'encoder.layer1.0.bn2.bias': [6],
  'encoder.layer1.0.bn2.running_mean': [6],
  'encoder.layer1.0.bn2.running_var': [6],
  'classification_head.3.weight': [3, 6],
  'classification_head.3.bias': [3],
};

/** A full state dict in PyTorch layouts, with the parity fill under a salt. */
function torchStateDict(salt = 's'): StateDict {
  const sd: StateDict = new Map();
  for (const [name, shape] of Object.entries(TORCH_SHAPES)) sd.set(name, { shape, data: parityFill(name, shape, salt) });
  return sd;
}

function run(model: tfl.LayersModel, x: tf.Tensor): Float32Array[] {
  const out = model.predict(x) as tf.Tensor[];
  const r = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return r;
}

test('exports PyTorch names, shapes and layouts', () => {
  const m = smallModel();
  const sd = exportStateDict(m);
  expect([...sd.keys()]).toEqual(Object.keys(TORCH_SHAPES));
  for (const [name, e] of sd) expect(e.shape).toEqual(TORCH_SHAPES[name]);
  // conv: tfjs kernel[kh,kw,in,out] == torch[out,in,kh,kw]
  const p = collectTorchParams(m).find((q) => q.name === 'encoder.layer1.0.conv2.weight')!;
  const k = p.variable.read().arraySync() as number[][][][];
  const t = sd.get('encoder.layer1.0.conv2.weight')!;
  const at = (o: number, i: number, h: number, w: number) => t.data[((o * 2 + i) * 3 + h) * 2 + w];
  expect(at(5, 1, 2, 0)).toBe(k[2][0][1][5]);
  expect(at(3, 0, 1, 1)).toBe(k[1][1][0][3]);
  // linear: tfjs [in,out] == torch [out,in]
  const lin = collectTorchParams(m).find((q) => q.name === 'classification_head.3.weight')!;
  const kl = lin.variable.read().arraySync() as number[][];
  expect(sd.get('classification_head.3.weight')!.data[2 * 6 + 4]).toBe(kl[4][2]);
  m.dispose();
});

test('a conv loaded from PyTorch layout computes PyTorch cross-correlation', () => {
  // conv1 only: compare one output pixel with a hand-computed PyTorch conv (NCHW weights).
  const x = tfl.input({ shape: [6, 5, 3] });
  const conv = new Conv2d({ name: 'c', filters: 4, kernelSize: 3, padding: 1, useBias: false });
  const m = tfl.model({ inputs: x, outputs: conv.apply(x) as tfl.SymbolicTensor });
  const w = parityFill('c.weight', [4, 3, 3, 3]);
  loadStateDict(m, new Map([['c.weight', { shape: [4, 3, 3, 3], data: w }]]));
  const input = tf.randomNormal([1, 6, 5, 3]);
  const xin = input.arraySync() as number[][][][];
  const y = (m.predict(input) as tf.Tensor).arraySync() as number[][][][];
  for (const [oy, ox, o] of [[0, 0, 0], [2, 3, 1], [5, 4, 3]]) {
    let s = 0;
    for (let i = 0; i < 3; i++)
      for (let kh = 0; kh < 3; kh++)
        for (let kw = 0; kw < 3; kw++) {
          const iy = oy + kh - 1, ix = ox + kw - 1;
          if (iy < 0 || iy >= 6 || ix < 0 || ix >= 5) continue;
          s += w[((o * 3 + i) * 3 + kh) * 3 + kw] * xin[0][iy][ix][i];
        }
    expect(y[0][oy][ox][o]).toBeCloseTo(s, 5);
  }
  input.dispose();
  m.dispose();
});

test('export → import round trip (in memory and through safetensors) gives identical outputs', () => {
  const a = smallModel();
  const b = smallModel();
  const c = smallModel();
  loadStateDict(a, torchStateDict()); // non-trivial running statistics
  const x = tf.randomNormal([2, 6, 5, 3]);
  const before = tf.memory().numTensors;
  const res = loadStateDict(b, exportStateDict(a));
  expect(res).toEqual({ missing: [], unexpected: [], mismatched: [], loaded: 13 });
  const bytes = saveStateDictSafetensors(a);
  loadStateDict(c, loadStateDictSafetensors(bytes));
  expect(tf.memory().numTensors).toBe(before);
  const [ya, yb, yc] = [run(a, x), run(b, x), run(c, x)];
  expect(yb).toEqual(ya);
  expect(yc).toEqual(ya);
  // F16 storage: same names, values within half precision
  const half = loadStateDictSafetensors(saveStateDictSafetensors(a, undefined, 'F16'));
  const full = exportStateDict(a);
  for (const [name, e] of full) {
    const h = half.get(name)!;
    expect(h.shape).toEqual(e.shape);
    for (let i = 0; i < e.data.length; i++) expect(Math.abs(h.data[i] - e.data[i])).toBeLessThanOrEqual(Math.abs(e.data[i]) * 2 ** -11 + 1e-7);
  }
  tf.dispose(x);
  [a, b, c].forEach((m) => m.dispose());
});

test('strict mode lists missing, unexpected and mismatched names and changes nothing', () => {
  const m = smallModel();
  const sd = torchStateDict();
  sd.delete('encoder.bn1.running_var');
  sd.set('decoder.extra.weight', { shape: [2], data: new Float32Array(2) });
  sd.set('classification_head.3.weight', { shape: [4, 6], data: new Float32Array(24) });
  const snapshot = exportStateDict(m);
  let message = '';
  try {
    loadStateDict(m, sd);
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toMatch(/Missing key\(s\) in state_dict \(1\): "encoder.bn1.running_var"/);
  expect(message).toMatch(/Unexpected key\(s\) in state_dict \(1\): "decoder.extra.weight"/);
  expect(message).toMatch(/"classification_head.3.weight": checkpoint \[4, 6\], model \[3, 6\]/);
  expect(exportStateDict(m)).toEqual(snapshot);

  const r = loadStateDict(m, sd, { strict: false });
  expect(r.missing).toEqual(['encoder.bn1.running_var']);
  expect(r.unexpected).toEqual(['decoder.extra.weight']);
  expect(r.mismatched).toEqual([{ name: 'classification_head.3.weight', expected: [3, 6], got: [4, 6] }]);
  expect(r.loaded).toBe(11);
  const after = exportStateDict(m);
  expect(after.get('encoder.conv1.weight')!.data).toEqual(sd.get('encoder.conv1.weight')!.data);
  expect(after.get('classification_head.3.weight')).toEqual(snapshot.get('classification_head.3.weight'));
  m.dispose();
});

test('num_batches_tracked is ignored; ignore, prefix and rename options', () => {
  const m = smallModel();
  const sd = torchStateDict();
  sd.set('encoder.bn1.num_batches_tracked', { shape: [], data: Float32Array.of(3) });
  expect(loadStateDict(m, sd).loaded).toBe(13);

  // A bare backbone state dict (torchvision names) with its own fc head.
  const bare: StateDict = new Map();
  for (const [name, e] of torchStateDict('t')) if (name.startsWith('encoder.')) bare.set(name.slice('encoder.'.length), e);
  bare.set('fc.weight', { shape: [10, 6], data: new Float32Array(60) });
  const r = loadStateDict(m, bare, { prefix: 'encoder.', ignore: ['encoder.fc.', 'classification_head.'] });
  expect(r).toEqual({ missing: [], unexpected: [], mismatched: [], loaded: 11 });
  expect(exportStateDict(m).get('encoder.bn1.bias')!.data).toEqual(parityFill('encoder.bn1.bias', [4], 't'));

  // timm-style names: strip `encoder.model.`, drop what we do not hold.
  const timm: StateDict = new Map();
  for (const [name, e] of torchStateDict('u')) timm.set(name.replace(/^encoder\./, 'encoder.model.'), e);
  timm.set('encoder.model.fc.bias', { shape: [3], data: new Float32Array(3) });
  const r2 = loadStateDict(m, timm, {
    rename: (n) => (n.endsWith('fc.bias') ? null : n.replace(/^encoder\.model\./, 'encoder.')),
  });
  expect(r2.loaded).toBe(13);
  expect(() => loadStateDict(m, timm, { rename: () => 'same' })).toThrow(/both map to 'same'/);
  expect(() => loadStateDict(m, new Map([['encoder.bn1.bias', { shape: [4], data: new Float32Array(3) }]]), { strict: false })).toThrow(
    /shape \[4\] but 3 values/,
  );
  expect(loadStateDict(m, torchStateDict(), { ignore: [/running_/] }).loaded).toBe(9);
  m.dispose();
});

test('targets: LayersModel, TorchParam[], objects with torchParams(); F16/F64 safetensors widen, integers skipped', () => {
  const m = smallModel();
  const params = collectTorchParams(m);
  expect(loadStateDict(params.slice(0, 1), new Map([...torchStateDict()].slice(0, 1))).loaded).toBe(1);
  expect(loadStateDict({ torchParams: () => params }, torchStateDict()).loaded).toBe(13);
  const bytes = writeSafetensors({
    a: { dtype: 'F64', shape: [2], data: [0.5, 1.5] },
    b: { dtype: 'F16', shape: [1], data: [2] },
    n: { dtype: 'I64', shape: [], data: [7] },
  });
  const sd = loadStateDictSafetensors(bytes);
  expect([...sd.keys()]).toEqual(['a', 'b']);
  expect(sd.get('a')!.data).toEqual(Float32Array.of(0.5, 1.5));
  expect(() => collectTorchParams({} as never)).toThrow(/target must be/);
  m.dispose();
});

test('applyParityFill writes each weight from its PyTorch name and shape', () => {
  const m = smallModel();
  expect(applyParityFill(m, 'salt')).toBe(13);
  const sd = exportStateDict(m);
  for (const [name, shape] of Object.entries(TORCH_SHAPES)) expect(sd.get(name)!.data).toEqual(parityFill(name, shape, 'salt'));
  // running_var row: 0.5 + u in [0.5, 1.5)
  for (const v of sd.get('encoder.bn1.running_var')!.data) expect(v >= 0.5 && v < 1.5).toBe(true);
  m.dispose();
});
