import * as tf from '@tensorflow/tfjs-core';
import { expectMatchesCpu, runOn, setupBackends, spec } from './helpers';

beforeAll(async () => {
  await setupBackends();
});

async function expectListMatchesCpu(kernel: string, x: tf.Tensor, attrs: Record<string, unknown>, input = 'x'): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const t = tf.tensor(x.dataSync(), x.shape);
    const outs = tf.engine().runKernel(kernel, { [input]: t }, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
    const res = outs.map((o) => ({ shape: o.shape, values: Array.from(o.dataSync()) }));
    tf.dispose([t, ...outs]);
    return res;
  };
  const ref = await run('cpu');
  const got = await run('wasm');
  expect(got).toEqual(ref);
}

describe('data-movement kernels on wasm match cpu exactly', () => {
  test.each([
    [[5, 7], [1, 2], [3, 4]],
    [[2, 5, 6, 3], [0, 1, 2, 0], [2, 3, 4, 3]],
    [[2, 5, 6, 3], [1, 0, 0, 0], [1, 5, 6, 3]],
    [[3, 4, 5, 6], [1, 1, 0, 2], [2, 2, 5, 3]],
    [[2, 3, 4, 5, 6], [0, 1, 1, 2, 1], [2, 2, 3, 3, 4]],
    [[4, 3, 2], [0, 0, 0], [-1, 3, 1]],
  ])('Slice %j begin %j size %j', async (shape, begin, size) => {
    await expectMatchesCpu('Slice', { x: spec(shape) }, { begin, size }, 0);
  });

  test.each([
    [[2, 4, 4, 8], [2, 3, 3], 3],
    [[2, 4, 4, 8], 4, 3],
    [[6, 5], [1, 2, 3], 0],
    [[2, 6, 3], 2, 1],
  ])('SplitV %j into %j on axis %i', async (shape, numOrSizeSplits, axis) => {
    const x = tf.tensor(spec(shape).values!, shape);
    await expectListMatchesCpu('SplitV', x, { numOrSizeSplits, axis });
    x.dispose();
  });

  test('Unpack along inner and outer axes', async () => {
    const x = tf.tensor(spec([3, 4, 2]).values!, [3, 4, 2]);
    await expectListMatchesCpu('Unpack', x, { axis: 1 }, 'value');
    await expectListMatchesCpu('Unpack', x, { axis: 0 }, 'value');
    await expectListMatchesCpu('Unpack', x, { axis: -1 }, 'value');
    x.dispose();
  });

  test.each([
    [[2, 6, 5, 3], [0, 1, 1, 0], [2, 5, 4, 3], [1, 1, 1, 1], 0],
    [[2, 6, 5, 3], [0, 0, 0, 0], [2, 6, 5, 3], [1, 2, 2, 1], 0],
    [[2, 6, 5, 3], [1, 0, 0, 0], [2, 0, 0, 0], [1, 1, 1, 1], 0b1110],
    [[4, 5], [1, 0], [3, 5], [1, 1], 0],
  ])('StridedSlice %j begin %j end %j strides %j endMask %i', async (shape, begin, end, strides, endMask) => {
    await expectMatchesCpu('StridedSlice', { x: spec(shape) }, {
      begin, end, strides, beginMask: 0, endMask, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
    }, 0);
  });

  test.each([
    [[1, 4, 4, 2], [2, 2], [[0, 0], [0, 0]]],
    [[2, 5, 7, 3], [2, 2], [[1, 2], [3, 4]]],
    [[3, 6, 4, 1], [3, 2], [[0, 3], [2, 2]]],
    [[2, 3, 3, 5], [4, 4], [[4, 5], [4, 5]]],
  ])('SpaceToBatchND %j block %j paddings %j and BatchToSpaceND back', async (shape, blockShape, paddings) => {
    await expectMatchesCpu('SpaceToBatchND', { x: spec(shape) }, { blockShape, paddings }, 0);
    const [n, h, w, c] = shape;
    const bShape = [n * blockShape[0] * blockShape[1], (h + paddings[0][0] + paddings[0][1]) / blockShape[0], (w + paddings[1][0] + paddings[1][1]) / blockShape[1], c];
    await expectMatchesCpu('BatchToSpaceND', { x: spec(bShape) }, { blockShape, crops: paddings }, 0);
  });

  test.each([
    [[3, 4], [4, 5], false, false],
    [[4, 3], [4, 5], true, false],
    [[3, 4], [5, 4], false, true],
    [[2, 4, 3], [2, 5, 4], true, true],
    [[2, 3, 4], [1, 5, 4], false, true],
  ])('BatchMatMul %j x %j transposeA %s transposeB %s', async (a, b, transposeA, transposeB) => {
    await expectMatchesCpu('BatchMatMul', { a: spec(a), b: spec(b) }, { transposeA, transposeB });
  });

  test.each([
    [[1, 1, 1, 4], [2, 3, 5, 1]],
    [[2, 3, 1, 2], [1, 2, 4, 3]],
    [[3, 1], [2, 7]],
    [[2, 2, 2], [1, 1, 1]],
    [[5], [3]],
  ])('Tile %j reps %j', async (shape, reps) => {
    await expectMatchesCpu('Tile', { x: spec(shape) }, { reps }, 0);
  });

  test('Cast: same dtype shares the buffer, other dtypes convert like cpu', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1.5, -2.25, 0]);
    const y = tf.cast(x, 'float32');
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2.25, 0]);
    y.dispose();
    const v = spec([2, 5]);
    const ref = await runOn('cpu', 'Cast', { x: v }, { dtype: 'int32' });
    const got = await runOn('wasm', 'Cast', { x: v }, { dtype: 'int32' });
    expect(Array.from(got.values)).toEqual(Array.from(ref.values));
  });

  test('Identity shares the buffer yet stays independent of the source tensor lifetime', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    const ref = await runOn('cpu', 'Identity', { x: spec([2, 3]) }, {});
    expect(ref.shape).toEqual([2, 3]);
  });

  test('dilated conv through spaceToBatch trains on wasm like on cpu', async () => {
    const xs = spec([2, 9, 7, 3]);
    const ws = spec([3, 3, 3, 4]);
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xs.values!, xs.shape as [number, number, number, number]);
      const w = tf.tensor4d(ws.values!, ws.shape as [number, number, number, number]);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const s2b = tf.spaceToBatchND(tf.pad(a, [[0, 0], [2, 2], [2, 2], [0, 0]]), [2, 2], [[0, 1], [0, 1]]);
        const y = tf.conv2d(s2b as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid');
        const back = tf.batchToSpaceND(y, [2, 2], [[0, 1], [0, 1]]);
        return tf.sum(tf.square(back));
      };
      const [gx, gw] = tf.grads(f)([x, w]);
      const out = [Array.from(gx.dataSync()), Array.from(gw.dataSync())];
      tf.dispose([x, w, gx, gw]);
      return out;
    };
    const ref = await grads('cpu');
    const got = await grads('wasm');
    for (let i = 0; i < 2; i++) {
      const scale = Math.max(...ref[i].map(Math.abs));
      const err = Math.max(...got[i].map((v, j) => Math.abs(v - ref[i][j])));
      expect(err / scale).toBeLessThan(1e-4);
    }
  });
});
