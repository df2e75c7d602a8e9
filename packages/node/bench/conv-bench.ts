// Conv forward / input-gradient / filter-gradient throughput on the wasm backend, busi kernels vs
// stock tfjs kernels. Usage: node packages/node/bench/run.mjs packages/node/bench/conv-bench.ts [--quick] [--out=dir]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@busi/kernels';
import { median } from './common';
import { writeResults } from './report';

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

/**
 * Median process-CPU milliseconds (wasm is single-threaded, so this equals wall time on an idle
 * machine and stays meaningful on a shared one).
 */
function timeIt(f: () => tf.Tensor, reps: number): number {
  tf.dispose(f());
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const r = f();
    r.dataSync();
    const c = process.cpuUsage(c0);
    ts.push((c.user + c.system) / 1000);
    r.dispose();
  }
  return median(ts);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const reps = quick ? 1 : 3;
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  let shapes = quick ? SHAPES.filter((_, i) => i % 3 === 1) : SHAPES;
  if (only) shapes = shapes.filter((s) => s.name.includes(only));
  await initBackend({ backend: 'wasm' });
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
    const attrs = { strides: [sh.s, sh.s], pad: padding, dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: 1 } as const;
    const dxK = sh.depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
    const dwK = sh.depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
    const dx = () => tf.engine().runKernel(dxK, { dy, filter: w }, { ...attrs, inputShape: x.shape }) as tf.Tensor;
    const dw = () => tf.engine().runKernel(dwK, { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor;
    const tF = timeIt(fwd, reps);
    const tX = timeIt(dx, reps);
    const tW = timeIt(dw, reps);
    unregisterWasmTrainingKernels();
    let tXStock: number | string = 'missing';
    try {
      tXStock = timeIt(dx, reps);
    } catch {
      /* the stock wasm backend has no such kernel */
    }
    registerWasmTrainingKernels();
    const g = (t: number) => +(flops / t / 1e6).toFixed(2);
    const row = {
      layer: sh.name,
      shape: `${sh.n}x${sh.h}x${sh.h}x${sh.ci} -> ${sh.co}, k${sh.k} s${sh.s}`,
      'GFLOP (fwd)': +(flops / 1e9).toFixed(2),
      'fwd ms': +tF.toFixed(1),
      'dX ms': +tX.toFixed(1),
      'dW ms': +tW.toFixed(1),
      'fwd GFLOP/s': g(tF),
      'dX GFLOP/s': g(tX),
      'dW GFLOP/s': g(tW),
      'fwd+bwd GFLOP/s': +((3 * flops) / (tF + tX + tW) / 1e6).toFixed(2),
      'stock dX ms': typeof tXStock === 'number' ? +tXStock.toFixed(1) : tXStock,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    tf.dispose([x, w, y, dy]);
  }
  writeResults('conv-bench', rows, 'Conv forward / backward on tfjs-backend-wasm (busi kernels), single thread, process-CPU ms');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
