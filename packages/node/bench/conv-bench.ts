// Throughput of the main conv kernels (3×3, 1×1, strided, the stem, depthwise): forward, input
// gradient and filter gradient, as GFLOP/s of busi's kernels beside PyTorch's on the same shapes
// (when the PyTorch reference is set up, ../shared/reference-tools/README.md).
//
//   node packages/node/bench/run.mjs packages/node/bench/conv-bench.ts [--quick] [--only=name]
//     [--backend=wasm|native] [--reps=N] [--reference=auto|off] [--stock] [--docs] [--out=dir]
//
// Times are wall ms, the best of N runs after a warm-up (the native kernels use every core, as
// PyTorch does, so process CPU time would count each core). `--stock` adds tfjs-backend-wasm's own
// input-gradient kernel (wasm only: the stock backend has no filter gradients). `--docs` writes the
// table into docs/performance.md between the `kernels-table` markers.
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import path from 'node:path';
import { initBackend, registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@busi/kernels';
import { referenceAvailable, repoRoot, runPythonCaptured } from './reproduce/python';
import { childFailure, hostInfo, markdownTable, resultLine, writeBetweenMarkers, writeResults } from './report';

interface Shape {
  name: string;
  n: number;
  h: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  depthwise?: boolean;
}

const SHAPES: Shape[] = [
  { name: 'resnet stem 7x7/2', n: 4, h: 224, ci: 3, co: 64, k: 7, s: 2 },
  { name: 'resnet layer1 3x3', n: 4, h: 56, ci: 64, co: 64, k: 3, s: 1 },
  { name: 'resnet layer1 1x1 expand', n: 4, h: 56, ci: 64, co: 256, k: 1, s: 1 },
  { name: 'resnet layer1 1x1 reduce', n: 4, h: 56, ci: 256, co: 64, k: 1, s: 1 },
  { name: 'resnet layer2 3x3/2', n: 4, h: 56, ci: 128, co: 128, k: 3, s: 2 },
  { name: 'resnet layer3 3x3', n: 4, h: 14, ci: 256, co: 256, k: 3, s: 1 },
  { name: 'unet decoder 3x3', n: 4, h: 112, ci: 96, co: 32, k: 3, s: 1 },
  { name: 'effnet dw 3x3', n: 4, h: 112, ci: 48, co: 48, k: 3, s: 1, depthwise: true },
  { name: 'effnet dw 5x5/2', n: 4, h: 56, ci: 192, co: 192, k: 5, s: 2, depthwise: true },
];

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

/** Best wall ms of `reps` runs after one warm-up (the least disturbed run on a shared machine). */
function bestMs(f: () => tf.Tensor, reps: number): number {
  tf.dispose(f());
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = f();
    r.dataSync();
    best = Math.min(best, performance.now() - t0);
    r.dispose();
  }
  return best;
}

/** PyTorch's fwd / dX / dW best ms per shape name, or why there are none. */
function torchTimes(shapes: Shape[], reps: number): Map<string, { fwd: number; dX: number; dW: number }> | string {
  if (arg('reference', 'auto') === 'off') return '--reference=off';
  const ref = referenceAvailable();
  if (!ref.ok) return ref.why;
  const script = path.join(repoRoot(), 'packages', 'node', 'bench', 'sbs', 'torch_side.py');
  const res = runPythonCaptured(script, ['--mode', 'kernels', '--shapes', JSON.stringify(shapes), '--reps', String(reps), '--warmup', '1', '--threads', String(os.availableParallelism())]);
  const result = resultLine<{ kernels: Array<{ name: string; fwd: number; dX: number; dW: number }> }>(res.stdout);
  if (!result) return `PyTorch ${childFailure(res)}`;
  return new Map(result.kernels.map((r) => [r.name, r]));
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = Number(arg('reps', quick ? '2' : '5'));
  const only = arg('only', '');
  const backend = arg('backend', 'wasm');
  if (backend !== 'wasm' && backend !== 'native') throw new Error(`--backend: expected wasm or native, got '${backend}'`);
  let shapes = quick ? SHAPES.filter((_, i) => i % 3 === 1) : SHAPES;
  if (only) shapes = shapes.filter((s) => s.name.includes(only));
  // PyTorch first and in its own process: its threads and ours never share the cores.
  const torch = torchTimes(shapes, reps);
  const desc = await initBackend({ backend, log: false });
  const stock = process.argv.includes('--stock') && backend === 'wasm';
  const rows: Array<Record<string, string | number>> = [];
  for (const sh of shapes) {
    const pad = Math.floor(sh.k / 2);
    const padding: tf.backend_util.ExplicitPadding = [[0, 0], [pad, pad], [pad, pad], [0, 0]];
    const x = tf.randomNormal([sh.n, sh.h, sh.h, sh.ci]) as tf.Tensor4D;
    const w = tf.randomNormal(sh.depthwise ? [sh.k, sh.k, sh.ci, 1] : [sh.k, sh.k, sh.ci, sh.co]) as tf.Tensor4D;
    const fwd = () => (sh.depthwise ? tf.depthwiseConv2d(x, w, sh.s, padding) : tf.conv2d(x, w, sh.s, padding));
    const y = fwd();
    const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
    const flops = 2 * y.size * sh.k * sh.k * (sh.depthwise ? 1 : sh.ci);
    const attrs = { strides: [sh.s, sh.s], pad: padding as unknown as number[][], dataFormat: 'NHWC', dilations: 1 };
    const dxK = sh.depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
    const dwK = sh.depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
    const dx = () => tf.engine().runKernel(dxK, { dy, filter: w }, { ...attrs, inputShape: x.shape }) as tf.Tensor;
    const dw = () => tf.engine().runKernel(dwK, { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor;
    const t = { fwd: bestMs(fwd, reps), dX: bestMs(dx, reps), dW: bestMs(dw, reps) };
    const g = (ms: number) => +(flops / ms / 1e6).toFixed(1);
    const row: Record<string, string | number> = {
      layer: sh.name,
      shape: `${sh.n}x${sh.h}x${sh.h}x${sh.ci} -> ${sh.co}, k${sh.k} s${sh.s}`,
      'GFLOP (fwd)': +(flops / 1e9).toFixed(2),
    };
    const ref = typeof torch === 'string' ? undefined : torch.get(sh.name);
    for (const k of ['fwd', 'dX', 'dW'] as const) {
      row[`${k} busi GFLOP/s`] = g(t[k]);
      if (ref) {
        row[`${k} PyTorch GFLOP/s`] = g(ref[k]);
        row[`${k} busi/PyTorch time`] = +(t[k] / ref[k]).toFixed(2);
      }
    }
    if (stock) {
      unregisterWasmTrainingKernels();
      row['stock wasm dX GFLOP/s'] = g(bestMs(dx, reps));
      registerWasmTrainingKernels();
    }
    rows.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([x, w, y, dy]);
  }
  const h = hostInfo();
  const title = `Conv kernels on ${desc.summary.replace(/^busi backend: /, '')}${typeof torch === 'string' ? ` (no PyTorch side: ${torch})` : ', beside PyTorch on the same threads'}`;
  writeResults('conv-bench', rows, title);
  if (process.argv.includes('--docs')) {
    const md = `Conditions: ${title}; ${h.cpu}, ${h.cores} cores, load average ${h.loadavg1}, ${String(h.date).slice(0, 16)}Z; wall time, best of ${reps}.\n\n${markdownTable(rows)}`;
    writeBetweenMarkers(path.join(repoRoot(), 'docs', 'performance.md'), 'kernels-table', md);
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
