import * as tf from '@tensorflow/tfjs-core';
import { ArrayPool, initBackend, loadNativeAddon, nativeAddonStatus, NativeBackend } from '../src';
import { randomValues } from './helpers';

describe('ArrayPool (reuse rules, without a backend)', () => {
  test('an array a kernel took comes back for the next request of its length once no tensor views it', () => {
    const pool = new ArrayPool(2 ** 20);
    const a = pool.take(1000);
    pool.attach(a);
    pool.attach(a.subarray(10, 20)); // a second tensor viewing the same buffer (a slice)
    pool.detach(a);
    expect(pool.take(1000)).not.toBe(a); // the slice still views it
    pool.detach(a.subarray(10, 20));
    expect(pool.heldBytes).toBe(4000);
    const again = pool.take(1000);
    expect(again.buffer).toBe(a.buffer);
    expect(pool.take(999)).toHaveLength(999);
    expect(pool.stats).toEqual({ reused: 1, allocated: 3 });
  });

  test('arrays the user wrote, arrays handed out and arrays over the cap are never kept', () => {
    const pool = new ArrayPool(6000);
    const user = new Float32Array(500);
    pool.attach(user);
    pool.detach(user);
    const escaped = pool.take(500);
    pool.attach(escaped);
    pool.escape(escaped);
    pool.detach(escaped);
    expect(pool.heldBytes).toBe(0);
    const [x, y] = [pool.take(1000), pool.take(1000)];
    for (const v of [x, y]) {
      pool.attach(v);
      pool.detach(v);
    }
    expect(pool.heldBytes).toBe(4000); // the second would pass the 6000-byte cap
    pool.clear();
    expect(pool.heldBytes).toBe(0);
  });

  test('a bad BUSI_NATIVE_POOL_MIB is refused, naming the variable', () => {
    const saved = process.env.BUSI_NATIVE_POOL_MIB;
    process.env.BUSI_NATIVE_POOL_MIB = 'lots';
    try {
      expect(() => new ArrayPool()).toThrow(/BUSI_NATIVE_POOL_MIB must be a number of MiB ≥ 0, got 'lots'/);
      process.env.BUSI_NATIVE_POOL_MIB = '1';
      expect(new ArrayPool().capBytes).toBe(2 ** 20);
    } finally {
      if (saved === undefined) delete process.env.BUSI_NATIVE_POOL_MIB;
      else process.env.BUSI_NATIVE_POOL_MIB = saved;
    }
  });
});

const built = loadNativeAddon() != null;
if (!built) console.log(`native array pool tests on the backend skipped: busi native addon ${nativeAddonStatus().reason}`);
const describeBuilt = built ? describe : describe.skip;

describeBuilt("the 'native' backend reuses its kernels' arrays", () => {
  let backend: NativeBackend;
  beforeAll(async () => {
    await initBackend({ backend: 'native', log: false });
    backend = tf.backend() as NativeBackend;
  });
  const bufferOf = (t: tf.Tensor) => (backend.data.get(t.dataId).values as Float32Array).buffer;
  const x = () => tf.tensor(randomValues(4 * 32 * 32 * 16, 5), [4, 32, 32, 16]);

  test('a disposed output is reused by the next output of its length, with the right values', async () => {
    const input = x();
    const first = tf.relu(input);
    const buffer = bufferOf(first);
    first.dispose();
    const second = tf.neg(input);
    expect(bufferOf(second)).toBe(buffer);
    expect(Array.from(await second.data())).toEqual(Array.from(input.dataSync(), (v) => -v));
    tf.dispose([input, second]);
  });

  test('an array returned by dataSync keeps its values after its tensor is gone', () => {
    const input = x();
    const y = tf.relu(input);
    const values = y.dataSync();
    const copy = Float32Array.from(values);
    y.dispose();
    const z = tf.neg(input);
    expect(bufferOf(z)).not.toBe(values.buffer);
    expect(values).toEqual(copy);
    tf.dispose([input, z]);
  });

  test('an array the user gave a tensor is never handed to a kernel', () => {
    const mine = randomValues(4 * 32 * 32 * 16, 9);
    const t = tf.tensor(mine, [4, 32, 32, 16]);
    const kept = Float32Array.from(mine);
    t.dispose();
    const input = x();
    const y = tf.relu(input);
    expect(bufferOf(y)).not.toBe(mine.buffer);
    expect(mine).toEqual(kept);
    tf.dispose([input, y]);
  });

  test('repeated training steps reuse arrays and keep the tensor count flat', () => {
    const w = tf.variable(tf.tensor(randomValues(3 * 3 * 16 * 16, 3), [3, 3, 16, 16]));
    const input = x();
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.relu(tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')))) as tf.Scalar, [w]);
      tf.tidy(() => w.assign(tf.sub(w, tf.mul(grads[w.name], 1e-6))));
      tf.dispose([value, grads]);
    };
    step();
    const tensors = tf.memory().numTensors;
    const reusedBefore = backend.pool.stats.reused;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.pool.stats.reused - reusedBefore).toBeGreaterThanOrEqual(3 * 4);
    tf.dispose([w, input]);
  });
});
