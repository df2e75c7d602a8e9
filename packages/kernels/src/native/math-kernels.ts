import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { BATCH_NORM_TRAIN_BACKWARD, BATCH_NORM_TRAIN_FORWARD } from '@busi/core';
import type { NativeAddon } from './addon';
import { ELEMENTWISE_MIN, empty, float32, heap, reductionAxes, zeroFill, type Fallback, type KernelTarget } from './kernel-utils';

/**
 * How `small` broadcasts onto `big` as [outer, mid, inner] with small = [outer, 1, inner], or null
 * when it does not (the output would be larger than big, or the broadcast axes are not one run).
 */
export function broadcastLayout(big: number[], small: number[]): [number, number, number] | null {
  if (small.length > big.length) return null;
  const s = [...Array(big.length - small.length).fill(1), ...small];
  const differ = big.map((d, i) => (s[i] !== d ? i : -1)).filter((i) => i >= 0);
  if (differ.some((i) => s[i] !== 1)) return null;
  const size = (from: number, to: number) => big.slice(from, to).reduce((p, q) => p * q, 1);
  if (differ.length === 0) return [1, 1, size(0, big.length)];
  const lo = differ[0];
  const hi = differ[differ.length - 1];
  for (let i = lo; i <= hi; i++) if (s[i] !== 1) return null;
  return [size(0, lo), size(lo, hi + 1), size(hi + 1, big.length)];
}

/**
 * The native non-convolution kernels: batched matmul, inference and fused training batch norm,
 * middle-axis Sum/Mean, large Relu/Sigmoid/Add/Multiply and last-axis Concat.
 */
export function mathKernelConfigs(addon: NativeAddon, fallback: Fallback, target: KernelTarget): KernelConfig[] {
  const batchMatMul: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!float32(a, b) || a.shape.length !== 3 || b.shape.length !== 3) return fallback(tf.BatchMatMul)(args);
    const transposeA = Boolean(attrs.transposeA);
    const transposeB = Boolean(attrs.transposeB);
    const [ba, a1, a2] = a.shape;
    const [bb, b1, b2] = b.shape;
    const m = transposeA ? a2 : a1;
    const k = transposeA ? a1 : a2;
    const n = transposeB ? b1 : b2;
    const kB = transposeB ? b2 : b1;
    if (k !== kB || (ba !== bb && ba !== 1 && bb !== 1)) return fallback(tf.BatchMatMul)(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([Math.max(ba, bb), m, n], 'float32');
    if (empty(out.shape)) return out;
    if (k === 0) return zeroFill(backend, out);
    addon.matmul(heap(backend, a), heap(backend, b), heap(backend, out),
      Int32Array.from([ba, bb, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0]));
    return out;
  };

  /** Sum or Mean over contiguous axes that leave an inner axis (the wasm kernels transpose for those). */
  const reduction = (name: string, mean: boolean): tf.KernelFunc => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs ?? {};
    const rank = x.shape.length;
    const axes = reductionAxes(attrs.axis, rank);
    const contiguous = axes.length > 0 && axes.every((a, i) => a === axes[0] + i);
    const last = axes[axes.length - 1];
    if (x.dtype !== 'float32' || !contiguous || last >= rank - 1 || empty(x.shape)) return fallback(name)(args);
    const size = (from: number, to: number) => x.shape.slice(from, to).reduce((p, q) => p * q, 1);
    const outer = size(0, axes[0]);
    const mid = size(axes[0], last + 1);
    const inner = size(last + 1, rank);
    const shape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const backend = target.view(args.backend);
    const out = backend.makeOutput(shape, 'float32');
    addon.reduceMiddle(heap(backend, x), heap(backend, out), Int32Array.from([outer, mid, inner]), mean ? 1 / mid : 1);
    return out;
  };

  const fusedBatchNorm: tf.KernelFunc = (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
    const c = x!.shape[x!.shape.length - 1];
    const perChannel = (t: TensorInfo | undefined) => t == null || (t.dtype === 'float32' && t.shape.reduce((p, q) => p * q, 1) === c);
    if (x!.dtype !== 'float32' || ![mean, variance].every((t) => t != null) || ![mean, variance, offset, scale].every(perChannel) || empty(x!.shape)) {
      return fallback(tf.FusedBatchNorm)(args);
    }
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...x!.shape], 'float32');
    addon.bnInference(heap(backend, x!), heap(backend, mean!), heap(backend, variance!),
      offset ? heap(backend, offset) : null, scale ? heap(backend, scale) : null, heap(backend, out),
      Number(args.attrs?.varianceEpsilon ?? 1e-3));
    return out;
  };

  const unary = (name: string, kind: 0 | 1): tf.KernelFunc => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const size = x.shape.reduce((p, q) => p * q, 1);
    if (x.dtype !== 'float32' || size < ELEMENTWISE_MIN) return fallback(name)(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...x.shape], 'float32');
    addon.unary(kind, heap(backend, x), heap(backend, out));
    return out;
  };

  const binary = (name: string, kind: 0 | 1): tf.KernelFunc => (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const sizeOf = (t: TensorInfo) => t.shape.reduce((p, q) => p * q, 1);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(name)(args);
    const [big, small] = sizeOf(a) >= sizeOf(b) ? [a, b] : [b, a];
    const backend = target.view(args.backend);
    if (sizeOf(small) === 1 && small.shape.length <= big.shape.length && sizeOf(big) >= ELEMENTWISE_MIN) {
      // x·1 and x+0 are x exactly (tfjs-layers' swish multiplies by its alpha of 1): share the buffer.
      if (heap(backend, small)[0] === (kind === 1 ? 1 : 0)) {
        backend.incRef(big.dataId);
        return { dataId: big.dataId, shape: [...big.shape], dtype: 'float32' };
      }
      const out = backend.makeOutput([...big.shape], 'float32');
      addon.binary(kind, heap(backend, big), heap(backend, small), heap(backend, out), Int32Array.from([1, 1, sizeOf(big)]));
      return out;
    }
    const layout = broadcastLayout(big.shape, small.shape);
    if (layout == null || sizeOf(big) < ELEMENTWISE_MIN || (layout[1] > 1 && layout[2] < 8)) return fallback(name)(args);
    const out = backend.makeOutput([...big.shape], 'float32');
    addon.binary(kind, heap(backend, big), heap(backend, small), heap(backend, out), Int32Array.from(layout));
    return out;
  };

  /** Concat along the last axis of float32 tensors (decoder skip connections). */
  const concat: tf.KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const rank = inputs[0]?.shape.length ?? 0;
    const axis = (Number((args.attrs ?? {}).axis) + rank) % Math.max(rank, 1);
    const rows = rank > 0 ? inputs[0].shape.slice(0, -1).reduce((p, q) => p * q, 1) : 0;
    const ok = rank > 1 && axis === rank - 1 && inputs.length > 1 && rows > 0 &&
      inputs.every((t) => t.dtype === 'float32' && t.shape.length === rank && t.shape.slice(0, -1).every((d, i) => d === inputs[0].shape[i]) && t.shape[rank - 1] > 0);
    const total = inputs.reduce((p, t) => p + t.shape.reduce((a, b) => a * b, 1), 0);
    if (!ok || total < ELEMENTWISE_MIN) return fallback(tf.Concat)(args);
    const backend = target.view(args.backend);
    const out = backend.makeOutput([...inputs[0].shape.slice(0, -1), inputs.reduce((p, t) => p + t.shape[rank - 1], 0)], 'float32');
    addon.concatLast(inputs.map((t) => heap(backend, t)), heap(backend, out), rows);
    return out;
  };

  const batchNormForward: tf.KernelFunc = (args) => {
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const c = x.shape[x.shape.length - 1];
    if (!float32(x, gamma, beta) || gamma.shape.length !== 1 || gamma.shape[0] !== c || beta.shape[0] !== c) {
      throw new Error(`${BATCH_NORM_TRAIN_FORWARD}: expected float32 x [..., C] with gamma and beta [C], got x ${JSON.stringify(x.shape)}, gamma ${JSON.stringify(gamma.shape)}, beta ${JSON.stringify(beta.shape)}`);
    }
    const backend = target.view(args.backend);
    const outs = [backend.makeOutput([...x.shape], 'float32'), ...[0, 1, 2].map(() => backend.makeOutput([c], 'float32'))];
    addon.bnForward(heap(backend, x), heap(backend, gamma), heap(backend, beta), ...outs.map((o) => heap(backend, o)) as [Float32Array, Float32Array, Float32Array, Float32Array], Number(args.attrs?.eps ?? 1e-5));
    return outs;
  };

  const batchNormBackward: tf.KernelFunc = (args) => {
    const { dy, x, mean, invStd, gamma } = args.inputs as Record<'dy' | 'x' | 'mean' | 'invStd' | 'gamma', TensorInfo>;
    const c = x.shape[x.shape.length - 1];
    if (!float32(dy, x, mean, invStd, gamma) || dy.shape.join() !== x.shape.join() || [mean, invStd, gamma].some((t) => t.shape.length !== 1 || t.shape[0] !== c)) {
      throw new Error(`${BATCH_NORM_TRAIN_BACKWARD}: expected float32 dy and x of one shape [..., C] and mean, invStd, gamma [C], got dy ${JSON.stringify(dy.shape)}, x ${JSON.stringify(x.shape)}`);
    }
    const backend = target.view(args.backend);
    const outs = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')];
    addon.bnBackward(heap(backend, dy), heap(backend, x), heap(backend, mean), heap(backend, invStd), heap(backend, gamma),
      heap(backend, outs[0]), heap(backend, outs[1]), heap(backend, outs[2]));
    return outs;
  };

  return [
    { kernelName: BATCH_NORM_TRAIN_FORWARD, backendName: target.backendName, kernelFunc: batchNormForward },
    { kernelName: BATCH_NORM_TRAIN_BACKWARD, backendName: target.backendName, kernelFunc: batchNormBackward },
    { kernelName: tf.BatchMatMul, backendName: target.backendName, kernelFunc: batchMatMul },
    { kernelName: tf.Sum, backendName: target.backendName, kernelFunc: reduction(tf.Sum, false) },
    { kernelName: tf.Mean, backendName: target.backendName, kernelFunc: reduction(tf.Mean, true) },
    { kernelName: tf.FusedBatchNorm, backendName: target.backendName, kernelFunc: fusedBatchNorm },
    { kernelName: tf.Relu, backendName: target.backendName, kernelFunc: unary(tf.Relu, 0) },
    { kernelName: tf.Sigmoid, backendName: target.backendName, kernelFunc: unary(tf.Sigmoid, 1) },
    { kernelName: tf.Add, backendName: target.backendName, kernelFunc: binary(tf.Add, 0) },
    { kernelName: tf.Multiply, backendName: target.backendName, kernelFunc: binary(tf.Multiply, 1) },
    { kernelName: tf.Concat, backendName: target.backendName, kernelFunc: concat },
  ];
}
