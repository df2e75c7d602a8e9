import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';

/** Per-kernel wall time, counting only outermost calls so composites are not counted twice. */
export class KernelTimer {
  readonly ms = new Map<string, { calls: number; ms: number }>();
  /** Individual calls of the kernels named here, with input shapes (to find slow shapes). */
  readonly detail: Array<{ kernel: string; shapes: string; ms: number }> = [];
  detailKernels = new Set<string>();
  private depth = 0;
  private readonly originals: KernelConfig[] = [];

  install(backend = 'wasm'): void {
    for (const config of tf.getKernelsForBackend(backend)) {
      this.originals.push(config);
      const inner = config.kernelFunc;
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel({
        ...config,
        kernelFunc: (args) => {
          if (this.depth > 0) return inner(args);
          this.depth++;
          const t0 = performance.now();
          try {
            return inner(args);
          } finally {
            this.depth--;
            const e = this.ms.get(config.kernelName) ?? { calls: 0, ms: 0 };
            e.calls++;
            const dt = performance.now() - t0;
            e.ms += dt;
            this.ms.set(config.kernelName, e);
            if (this.detailKernels.has(config.kernelName)) {
              const shapes = Object.entries(args.inputs).map(([k, v]) => `${k}[${v.shape}]`).join(' ');
              this.detail.push({ kernel: config.kernelName, shapes, ms: dt });
            }
          }
        },
      });
    }
  }

  uninstall(backend = 'wasm'): void {
    for (const config of this.originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
    this.originals.length = 0;
  }

  top(n = 15): Array<{ kernel: string; calls: number; ms: number }> {
    return [...this.ms.entries()]
      .map(([kernel, v]) => ({ kernel, ...v }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n);
  }
}

/** Dice + focal-style multi-task loss from elementary ops (the real losses have the same kernels). */
export function multiTaskLoss(mask: tf.Tensor, logits: tf.Tensor, maskTarget: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.sigmoid(mask);
    const inter = tf.sum(tf.mul(p, maskTarget));
    const dice = tf.sub(1, tf.div(tf.add(tf.mul(2, inter), 1), tf.add(tf.add(tf.sum(p), tf.sum(maskTarget)), 1)));
    const logp = tf.logSoftmax(logits);
    const pt = tf.exp(logp);
    const focal = tf.neg(tf.mean(tf.sum(tf.mul(tf.mul(tf.square(tf.sub(1, pt)), logp), labels), -1)));
    return tf.add(tf.mul(0.7, dice), tf.mul(0.3, focal)) as tf.Scalar;
  });
}

export interface TrainBench {
  model: MultiTaskModel;
  optimizer: tf.Optimizer;
  step(): number;
  dispose(): void;
}

/** A model, optimizer and fixed random batch; `step()` runs one optimiser step and returns ms. */
export function makeTrainBench(encoder: string, decoder: string, batch: number, size: number): TrainBench {
  const model = new MultiTaskModel({ encoder, decoder, classes: 3 });
  const optimizer = tf.train.adam(1e-4);
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const y = tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1]), 0.5), 'float32');
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 3), 'int32'), 3);
  const vars = model.trainableVariables();
  return {
    model,
    optimizer,
    step() {
      const t0 = performance.now();
      const loss = optimizer.minimize(() => {
        const out = model.forward(x, true);
        return multiTaskLoss(out.mask, out.logits, y, labels);
      }, true, vars);
      loss!.dataSync();
      loss!.dispose();
      return performance.now() - t0;
    },
    dispose() {
      tf.dispose([x, y, labels]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
