/** Messages between {@link createDataParallel} and its workers (structured-clone data only). */

/** A tensor's values, shape and dtype, as posted to a worker. */
export interface PlainTensor {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** What each worker receives at start (`workerData`). */
export interface WorkerInit {
  /** Worker number; worker 0 also reports its BatchNorm running statistics. */
  index: number;
  /** The model saved to memory: topology and weight specs (weights in `weightData`). */
  modelTopology: object;
  weightSpecs: object[];
  weightData: ArrayBuffer;
  /** The saved model's metadata (holds the busi configuration). */
  userDefinedMetadata: object;
  /**
   * `originalName`s of the main model's weights: all, trainable, non-trainable, in the order of the
   * shared buffers (a loaded model may list its layers in another order than the built one).
   */
  order: { all: string[]; trainable: string[]; state: string[] };
  /** Every weight of the model (`order.all`), flat float32, written by the main thread. */
  weights: SharedArrayBuffer;
  /** Gradients: one slot of `trainableSize` floats per worker, trainable-weight order. */
  grads: SharedArrayBuffer;
  /** Non-trainable weights (running statistics), flat, written by worker 0 after each step. */
  state: SharedArrayBuffer;
  /** Segmentation weight λ of the multi-task loss. */
  lambda: number;
  /** Seed of the dropout masks (as the Trainer's `seed`). */
  seed: number;
  /** tfjs backend of the worker ('wasm' or 'cpu'). */
  backend: 'wasm' | 'cpu';
  /** Threads each worker's native kernels may use (the cores shared out between the workers). */
  nativeThreads: number;
}

/** Main → worker. */
export type ToWorker =
  | {
      type: 'step';
      id: number;
      images: PlainTensor;
      masks: PlainTensor;
      labels: PlainTensor;
      /** The shard's share of the batch (its gradient is scaled by it). */
      weight: number;
      /** Epoch, batch and micro-batch (= worker) number: the dropout seed key of `Trainer.computeGradients`. */
      where: { epoch: number; batch: number; microBatch: number };
    }
  | { type: 'sync'; id: number };

/** Worker → main. */
export type FromWorker =
  | { type: 'ready'; shapes: number[][] }
  | { type: 'done'; id: number; parts?: [number, number, number]; numTensors: number; ms: number }
  | { type: 'error'; id: number; message: string };
