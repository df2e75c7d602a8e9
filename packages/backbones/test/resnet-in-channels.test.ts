import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  adaptFirstConvWeights,
  adaptStateDictInChannels,
  applyParityFill,
  createEncoder,
  exportStateDict,
  loadStateDict,
} from '@busi/core';
import '../src';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('adaptFirstConvWeights (smp patch_first_conv)', () => {
  // [out=2, in=3, 1, 2]
  const w = { shape: [2, 3, 1, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };

  it('1 channel: sums the RGB kernels', () => {
    const a = adaptFirstConvWeights(w, 1);
    expect(a.shape).toEqual([2, 1, 1, 2]);
    expect([...a.data]).toEqual([1 + 3 + 5, 2 + 4 + 6, 7 + 9 + 11, 8 + 10 + 12]);
  });

  it('N channels: repeats the kernels cyclically and scales by 3/N', () => {
    const a = adaptFirstConvWeights(w, 4);
    expect(a.shape).toEqual([2, 4, 1, 2]);
    const s = 3 / 4;
    expect([...a.data].map((v) => +v.toFixed(5))).toEqual(
      [1, 2, 3, 4, 5, 6, 1, 2, 7, 8, 9, 10, 11, 12, 7, 8].map((v) => +(v * s).toFixed(5)),
    );
    expect(adaptFirstConvWeights(w, 2).data[0]).toBeCloseTo(1.5);
    expect(adaptFirstConvWeights(w, 3)).toBe(w);
  });

  it('rejects what is not a conv kernel', () => {
    expect(() => adaptFirstConvWeights({ shape: [2, 3], data: new Float32Array(6) }, 1)).toThrow(/\[out, in, kh, kw\]/);
    expect(() => adaptFirstConvWeights(w, 0)).toThrow(/positive integer/);
    expect(() => adaptFirstConvWeights({ shape: [2, 3, 1, 1], data: new Float32Array(5) }, 1)).toThrow(/does not match/);
  });
});

describe('RGB weights into a ResNet with other input channels', () => {
  const build = (inChannels: number) => {
    const enc = createEncoder('resnet18', { inChannels, depth: 2 });
    const input = tfl.input({ shape: [null, null, inChannels] });
    return tfl.model({ inputs: input, outputs: enc.apply(input).slice(1) });
  };

  it.each([1, 6])('%i channel(s): an image replicated over the channels gives the RGB model output', (channels) => {
    const rgb = build(3);
    applyParityFill(rgb);
    const sd = exportStateDict(rgb);
    const other = build(channels);
    expect(() => loadStateDict(other, sd)).toThrow(/encoder\.conv1\.weight/);
    const adapted = adaptStateDictInChannels(sd, channels);
    expect(adapted.get('encoder.conv1.weight')!.shape).toEqual([64, channels, 7, 7]);
    expect(loadStateDict(other, adapted).loaded).toBe(sd.size);
    tf.tidy(() => {
      const gray = tf.randomUniform([1, 32, 48, 1]);
      const a = rgb.predict(tf.tile(gray, [1, 1, 1, 3])) as tf.Tensor[];
      const b = other.predict(tf.tile(gray, [1, 1, 1, channels])) as tf.Tensor[];
      a.forEach((t, i) => {
        const scale = tf.max(tf.abs(t)).dataSync()[0];
        expect(tf.max(tf.abs(tf.sub(t, b[i]))).dataSync()[0]).toBeLessThan(1e-4 * scale);
      });
    });
    rgb.dispose();
    other.dispose();
  });

  it('loads a torchvision-style checkpoint (bare names, fc head) into a grayscale encoder', () => {
    const rgb = build(3);
    applyParityFill(rgb, 'tv');
    // torchvision names have no 'encoder.' prefix and carry the classifier.
    const tv = new Map([...exportStateDict(rgb)].map(([k, v]) => [k.replace(/^encoder\./, ''), v]));
    tv.set('fc.weight', { shape: [10, 512], data: new Float32Array(5120) });
    tv.set('fc.bias', { shape: [10], data: new Float32Array(10) });
    const gray = build(1);
    const r = loadStateDict(gray, adaptStateDictInChannels(tv, 1), { prefix: 'encoder.', ignore: ['fc.'] });
    expect(r).toMatchObject({ missing: [], unexpected: [], mismatched: [] });
    const want = [...tv.get('conv1.weight')!.data.subarray(0, 49)].map((v, j) => v + tv.get('conv1.weight')!.data[49 + j] + tv.get('conv1.weight')!.data[98 + j]);
    const got = exportStateDict(gray).get('encoder.conv1.weight')!;
    expect(got.shape).toEqual([64, 1, 7, 7]);
    got.data.subarray(0, 49).forEach((v, j) => expect(v).toBeCloseTo(want[j], 5));
    rgb.dispose();
    gray.dispose();
  });

  it('finds the first 3-channel conv itself, or takes its name', () => {
    const sd = new Map([
      ['encoder.conv1.weight', { shape: [1, 3, 1, 1], data: Float32Array.from([1, 2, 3]) }],
      ['encoder.layer1.0.conv1.weight', { shape: [1, 3, 1, 1], data: Float32Array.from([4, 5, 6]) }],
    ]);
    expect([...adaptStateDictInChannels(sd, 1).get('encoder.conv1.weight')!.data]).toEqual([6]);
    expect(adaptStateDictInChannels(sd, 1).get('encoder.layer1.0.conv1.weight')!.shape).toEqual([1, 3, 1, 1]);
    expect([...adaptStateDictInChannels(sd, 1, { name: 'encoder.layer1.0.conv1.weight' }).get('encoder.layer1.0.conv1.weight')!.data]).toEqual([15]);
    expect(() => adaptStateDictInChannels(new Map(), 1)).toThrow(/no conv kernel with 3 input channels/);
  });
});
