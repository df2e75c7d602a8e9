// One ResNet-50 layer1 bottleneck block (56²×256, batch 4) trained step by step with busi's core
// layers: the micro benchmark for the wasm training kernels.
// Usage: node packages/node/bench/run.mjs packages/node/bench/bottleneck.ts [--steps=3] [--batch=4] [--with-cpu] [--out=dir]
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, Conv2d } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { median } from './common';
import { writeResults } from './report';

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

function block() {
  const c1 = new Conv2d({ name: 'conv1', filters: 64, kernelSize: 1, useBias: false });
  const b1 = new BatchNorm2d({ name: 'bn1' });
  const c2 = new Conv2d({ name: 'conv2', filters: 64, kernelSize: 3, padding: 1, useBias: false });
  const b2 = new BatchNorm2d({ name: 'bn2' });
  const c3 = new Conv2d({ name: 'conv3', filters: 256, kernelSize: 1, useBias: false });
  const b3 = new BatchNorm2d({ name: 'bn3' });
  const kw = { training: true };
  const apply = (x: tf.Tensor): tf.Tensor => {
    let h = tf.relu(b1.apply(c1.apply(x, kw) as tf.Tensor, kw) as tf.Tensor);
    h = tf.relu(b2.apply(c2.apply(h, kw) as tf.Tensor, kw) as tf.Tensor);
    h = b3.apply(c3.apply(h, kw) as tf.Tensor, kw) as tf.Tensor;
    return tf.relu(tf.add(h, x));
  };
  return { apply, layers: [c1, b1, c2, b2, c3, b3] };
}

async function runOn(backend: 'wasm' | 'cpu', batch: number, steps: number): Promise<Record<string, string | number>> {
  await initBackend({ backend });
  const net = block();
  const x = tf.randomNormal([batch, 56, 56, 256]);
  tf.dispose(net.apply(x));
  const vars = net.layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  const opt = tf.train.sgd(0.01);
  const step = () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const loss = opt.minimize(() => tf.mean(tf.square(net.apply(x))) as tf.Scalar, true, vars)!;
    loss.dataSync();
    loss.dispose();
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  };
  step();
  const before = tf.memory().numTensors;
  const ts = Array.from({ length: steps }, step);
  const leak = tf.memory().numTensors - before;
  const fwdFlops = 2 * batch * 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256);
  const wall = median(ts.map((t) => t.wall));
  const cpu = median(ts.map((t) => t.cpu));
  tf.dispose(x);
  opt.dispose();
  return {
    backend,
    batch,
    'train step ms': +wall.toFixed(0),
    'train step cpu ms': +cpu.toFixed(0),
    'GFLOP/step (fwd+bwd)': +((3 * fwdFlops) / 1e9).toFixed(2),
    'GFLOP/s (cpu time)': +((3 * fwdFlops) / cpu / 1e6).toFixed(2),
    'tensor leak/step': leak / steps,
  };
}

async function main(): Promise<void> {
  const steps = Number(arg('steps', '3'));
  const batch = Number(arg('batch', '4'));
  const rows = [await runOn('wasm', batch, steps)];
  console.log(JSON.stringify(rows[0]));
  if (process.argv.includes('--with-cpu')) {
    rows.push(await runOn('cpu', batch, 1));
    console.log(JSON.stringify(rows[1]));
  }
  writeResults('bottleneck', rows, 'ResNet bottleneck (56x56x256 -> 64 -> 256) train step');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
