// CPU inference latency of busi (the active tfjs backend) beside ONNX Runtime (CPU execution
// provider, onnxruntime-node) running busi's own ONNX export of the same model, batch 1.
// Each figure is the best of --reps timed runs after one warm-up (best-of-N: on a shared machine
// the fastest run is the one least disturbed by other processes). Also prints the two runtimes'
// agreement (relative RMS) at this size.
//
// Usage: node packages/node/bench/run.mjs packages/node/bench/onnx.ts [options]
//   --models=unet:resnet50,unet:efficientnet-b4   (decoder:encoder)
//   --size=448   --reps=5   --threads=N (ONNX Runtime intra-op threads; default: every core)
//   --backend=auto|wasm|cpu|tensorflow   --out=dir
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { exportOnnx } from '@busi/onnx';
import { hostInfo, writeResults } from './report';

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

async function bestOf(reps: number, run: () => Promise<void>): Promise<{ best: number; all: number[] }> {
  await run(); // warm-up: kernel compilation, weight packing, arena allocation
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    all.push(performance.now() - t0);
  }
  return { best: Math.min(...all), all };
}

function relativeRms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

async function main(): Promise<void> {
  const models = arg('models', 'unet:resnet50,unet:efficientnet-b4').split(',').map((m) => m.split(':') as [string, string]);
  const size = Number(arg('size', '448'));
  const reps = Number(arg('reps', '5'));
  const threads = Number(arg('threads', String(os.cpus().length)));
  const backend = await initBackend({ backend: arg('backend', 'auto') as BackendChoice, log: false });
  console.log(`busi: ${backend.summary}; ONNX Runtime ${ort.env.versions.node ?? ''} CPU, ${threads} intra-op threads; ${size}², batch 1, best of ${reps}`);
  const loadBefore = os.loadavg()[0];
  const rows: Array<Record<string, unknown>> = [];
  for (const [decoder, encoder] of models) {
    const model = new MultiTaskModel({ encoder, decoder });
    const t0 = performance.now();
    const { bytes } = exportOnnx(model);
    const exportMs = performance.now() - t0;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
    const x = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const image = new ort.Tensor('float32', Float32Array.from(await nchw.data()), [1, 3, size, size]);
    let busiMask: Float32Array = new Float32Array();
    const busi = await bestOf(reps, async () => {
      const out = model.predict(x);
      const m = tf.transpose(out.mask, [0, 3, 1, 2]);
      busiMask = (await m.data()) as Float32Array;
      await out.logits.data();
      tf.dispose([out.mask, out.logits, m]);
    });
    let ortMask: Float32Array = new Float32Array();
    const onnx = await bestOf(reps, async () => {
      const res = await session.run({ image });
      ortMask = res.mask_logits.data as Float32Array;
    });
    const row = {
      model: `${decoder}/${encoder}`,
      size,
      'busi ms (best)': Math.round(busi.best),
      'ONNX Runtime ms (best)': Math.round(onnx.best),
      'busi / ORT': +(busi.best / onnx.best).toFixed(2),
      'busi runs': busi.all.map(Math.round).join(' '),
      'ORT runs': onnx.all.map(Math.round).join(' '),
      'mask rel. RMS': relativeRms(ortMask, busiMask).toExponential(1),
      'export ms': Math.round(exportMs),
      'file MiB': +(bytes.length / 2 ** 20).toFixed(1),
    };
    console.log(row);
    rows.push(row);
    tf.dispose([x, nchw]);
    await session.release();
    model.dispose();
  }
  const host = hostInfo();
  console.log(`load average (1 min): ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after, on ${host.cores} cores`);
  writeResults('onnx', rows, `busi (${backend.summary}) vs ONNX Runtime CPU, batch-1 inference at ${size}²`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
