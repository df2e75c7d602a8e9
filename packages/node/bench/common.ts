import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { Adam, MultiTaskModel, Trainer, tensorDataset } from '@busi/core';
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
              const shapes = Object.entries(args.inputs).map(([k, v]) => `${k}[${v?.shape}]`).join(' ');
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

export interface TrainBench {
  model: MultiTaskModel;
  trainer: Trainer;
  step(): Promise<number>;
  dispose(): void;
}

/**
 * A model, a Trainer (Adam lr 1e-4, with `weightDecay` when given, the default λ·Dice + (1-λ)·Focal loss, the
 * whole batch at once: no micro-batches) and a fixed random batch; `step()` runs one
 * `trainer.trainStep` and returns ms.
 */
export function makeTrainBench(encoder: string, decoder: string, batch: number, size: number, weightDecay?: number): TrainBench {
  const model = new MultiTaskModel({ encoder, decoder, classes: 3 });
  const optimizer = new Adam({ learningRate: 1e-4, weightDecay });
  const trainer = new Trainer(model, { batchSize: batch, optimizer, metrics: [] });
  const images = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const masks = tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1]), 0.5), 'float32') as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 3), 'int32');
  const data = tensorDataset({ images, masks, labels });
  const indices = Array.from({ length: batch }, (_, i) => i);
  return {
    model,
    trainer,
    async step() {
      const t0 = performance.now();
      await trainer.trainStep(data, indices);
      return performance.now() - t0;
    },
    dispose() {
      tf.dispose([images, masks, labels]);
      trainer.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
