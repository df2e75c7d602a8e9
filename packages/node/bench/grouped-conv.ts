// Grouped convolution (ResNeXt-50 32x4d's 3x3 convs, groups=32): busi's `groupedConv2d` (groups
// moved into the batch dimension) vs the plain channel-split formulation vs a dense conv of EQUAL
// FLOPs, forward and forward+backward, on wasm and cpu. The ratio grouped / dense is the price of
// grouping. Usage:
//   node packages/node/bench/run.mjs packages/node/bench/grouped-conv.ts [--backend=wasm|cpu|both] [--reps=5]
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { defaultGroupsPerConv, groupedConv2d, groupedConv2dSplit } from '@busi/core';
import { registerWasmTrainingKernels } from '@busi/kernels';

interface Case {
  name: string;
  /** Batch, input size (already padded by 1), channels, stride. */
  n: number;
  h: number;
  c: number;
  s: number;
}

const GROUPS = 32;
// ResNeXt-50 32x4d at a 224 input (448 has 4x the pixels); in = out channels, 3x3, pad 1.
const WASM_CASES: Case[] = [
  { name: 'layer1 3x3 128ch 56x56', n: 2, h: 58, c: 128, s: 1 },
  { name: 'layer2.0 3x3/2 256ch 56->28', n: 2, h: 58, c: 256, s: 2 },
  { name: 'layer3 3x3 512ch 14x14', n: 2, h: 16, c: 512, s: 1 },
  { name: 'layer4 3x3 1024ch 7x7', n: 2, h: 9, c: 1024, s: 1 },
];
// The cpu backend's conv filter gradient is ~100x slower than its forward: smaller maps.
const CPU_CASES: Case[] = [
  { name: 'layer1 3x3 128ch 28x28', n: 1, h: 30, c: 128, s: 1 },
  { name: 'layer2.0 3x3/2 256ch 28->14', n: 1, h: 30, c: 256, s: 2 },
  { name: 'layer4 3x3 1024ch 7x7', n: 1, h: 9, c: 1024, s: 1 },
];

type Conv = (x: tf.Tensor4D, k: tf.Tensor4D, s: [number, number]) => tf.Tensor4D;

function minMs(run: () => tf.Tensor | tf.Tensor[], reps: number): number {
  const once = () => {
    const r = run();
    const out = Array.isArray(r) ? r : [r];
    for (const t of out) t.dataSync();
    tf.dispose(out);
  };
  once();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    ms.push(performance.now() - t0);
  }
  // The minimum, not the median: on a shared machine the spread comes from other processes.
  return Math.min(...ms);
}

function measure(conv: Conv, xShape: [number, number, number, number], kShape: [number, number, number, number], s: number, reps: number): { fwd: number; fwdBwd: number } {
  const x = tf.randomNormal(xShape) as tf.Tensor4D;
  const k = tf.randomNormal(kShape) as tf.Tensor4D;
  const fwd = minMs(() => conv(x, k, [s, s]), reps);
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(conv(a as tf.Tensor4D, b as tf.Tensor4D, [s, s])));
  const fwdBwd = minMs(() => grads([x, k]), reps);
  tf.dispose([x, k]);
  return { fwd, fwdBwd };
}

async function bench(backend: string, reps: number): Promise<void> {
  if (backend === 'wasm') registerWasmTrainingKernels();
  await tf.setBackend(backend);
  const cases = backend === 'cpu' ? CPU_CASES : WASM_CASES;
  console.log(`\n## ${backend} (best of ${reps}; ms; groups=${GROUPS}; busi packs ${defaultGroupsPerConv(GROUPS, 4)} group(s) per conv at 4 ch/group)`);
  console.log('| case | GFLOP fwd | busi fwd | split fwd | dense fwd | busi/dense fwd | busi fwd+bwd | split fwd+bwd | dense fwd+bwd | busi/dense fwd+bwd |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of cases) {
    const out = Math.floor((c.h - 3) / c.s) + 1;
    const gflop = (2 * c.n * out * out * c.c * (c.c / GROUPS) * 9) / 1e9;
    const xs: [number, number, number, number] = [c.n, c.h, c.h, c.c];
    const ks: [number, number, number, number] = [3, 3, c.c / GROUPS, c.c];
    const busi = measure((x, k, s) => groupedConv2d(x, k, s, GROUPS), xs, ks, c.s, reps);
    const split = measure((x, k, s) => groupedConv2dSplit(x, k, s, GROUPS), xs, ks, c.s, reps);
    // Dense conv with in·out = c²/groups: the same multiply-adds per pixel.
    const dense = measure((x, k, s) => tf.conv2d(x, k, s, 'valid'), [c.n, c.h, c.h, c.c / 4], [3, 3, c.c / 4, (4 * c.c) / GROUPS], c.s, reps);
    const f = (v: number) => v.toFixed(1);
    console.log(
      `| ${c.name} | ${gflop.toFixed(3)} | ${f(busi.fwd)} | ${f(split.fwd)} | ${f(dense.fwd)} | ${(busi.fwd / dense.fwd).toFixed(1)}x | ` +
        `${f(busi.fwdBwd)} | ${f(split.fwdBwd)} | ${f(dense.fwdBwd)} | ${(busi.fwdBwd / dense.fwdBwd).toFixed(1)}x |`,
    );
  }
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
  const which = arg('backend', 'both');
  const reps = Number(arg('reps', '5'));
  for (const backend of which === 'both' ? ['wasm', 'cpu'] : [which]) await bench(backend, reps);
}

void main();
