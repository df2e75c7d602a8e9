import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskLoss } from '@busi/losses';
import { MultiTaskMetrics } from '../metrics/validation';
import type { MultiTaskModel, MultiTaskOutput } from '../model/multi-task-model';
import { History, type Logs, type TrainingCallback, type TrainingControl } from './callbacks';
import { Rng, mixSeed } from '../random/rng';
import { batchIndices, type TrainingBatch, type TrainingDataset } from './data';
import { Adam, type NamedTensor } from './optimizers';
import { ProgressLogger, defaultProgressOutput, resolveVerbosity, type Verbosity } from './progress';
import { checkWeightSpecs } from '../io/model-artifacts';
import { previewJson } from '../io/safetensors';
import { releasingVariableGrads } from './releasing-gradients';

/** The three scalars a training loss yields; the trainer owns and disposes them. */
export interface LossParts {
  /** The quantity to minimise, e.g. λ·segmentation + (1-λ)·classification. */
  total: tf.Scalar;
  /** Segmentation part (logged, not differentiated separately). */
  segmentation: tf.Scalar;
  /** Classification part (logged). */
  classification: tf.Scalar;
}

/** A multi-task loss; `MultiTaskLoss` from @busi/losses is one. */
export interface TrainingLoss {
  /**
   * The loss of one batch: mask logits `[N,H,W,1]` against masks, class logits `[N,C]` against labels `[N]`.
   */
  compute(maskLogits: tf.Tensor, maskTruth: tf.Tensor, classLogits: tf.Tensor, labels: tf.Tensor): LossParts;
}

/**
 * A validation metric fed batch by batch in inference mode. `update` runs inside a `tf.tidy`, so
 * it must keep whatever it accumulates as plain numbers (or `tf.keep` it and release it in `reset`).
 * A metric with `updateAsync` is fed through that instead, after the tidy (the output tensors are
 * disposed once it settles): GPU backends read asynchronously, and webgpu in Node only so.
 */
export interface ValidationMetric {
  /** Forgets everything accumulated, before each validation pass. */
  reset(): void;
  /** Accumulates one validation batch (the model's output and the batch it came from). */
  update(output: MultiTaskOutput, batch: TrainingBatch): void;
  /** Optional: the same as `update`, reading tensors asynchronously; used in place of `update` when present. */
  updateAsync?(output: MultiTaskOutput, batch: TrainingBatch): Promise<void>;
  /** Named results, logged with a `val_` prefix. */
  result(): Logs;
}

/** Options of {@link Trainer} and {@link train}. */
export interface TrainerOptions {
  /** Epochs to train in total (a resumed trainer continues up to this number). Default 1. */
  epochs?: number;
  /** Samples per optimizer step. Default 8. */
  batchSize?: number;
  /**
   * Samples per forward/backward pass; gradients of the micro-batches of one batch are summed,
   * each weighted by its share of the batch, before a single optimizer step. Must divide nothing:
   * a last, shorter micro-batch is fine. Default `batchSize` (no accumulation).
   */
  microBatchSize?: number;
  /** Reshuffle the training samples every epoch. Default true. */
  shuffle?: boolean;
  /**
   * Seed of the shuffling and of every training step's dropout / drop-connect masks (keyed by epoch,
   * batch and micro-batch, so a resumed run repeats them). Weight initialisation is seeded by the
   * model's own `seed`, augmentation by the dataset's. Default 0.
   */
  seed?: number;
  /** Drop a final batch shorter than `batchSize` (BatchNorm cannot train on one sample at 1×1). Default false. */
  dropLast?: boolean;
  /** Default `new Adam()` (lr 1e-3). */
  optimizer?: tf.Optimizer;
  /**
   * Default `new MultiTaskLoss()`: λ·Dice + (1-λ)·Focal with λ = `DEFAULT_LAMBDA` of `@busi/losses`
   * (0.7, the paper's); another λ is `new MultiTaskLoss({ lambda })`.
   */
  loss?: TrainingLoss;
  /**
   * @deprecated λ is the loss's: pass `loss: new MultiTaskLoss({ lambda })`. Still honoured by
   * building that loss, with a one-time warning.
   */
  lambda?: number;
  /** Evaluated in inference mode after every epoch; results are logged as `val_*`. */
  validationData?: TrainingDataset;
  /** Batch size of validation. Default `batchSize`. */
  validationBatchSize?: number;
  /**
   * Validation metrics (logged as `val_<name>`). Default `[new MultiTaskMetrics({ numClasses })]`:
   * `accuracy`, `macro_f1`, per-class F1, `iou`, `dice` and more; `[]` for none.
   */
  metrics?: ValidationMetric[];
  /** Hooks, including {@link EarlyStopping} and {@link ModelCheckpoint}. */
  callbacks?: TrainingCallback[];
  /** Learning rate for each epoch, set on the optimizer (its `learningRate` field) before the epoch starts. */
  learningRateSchedule?: (epoch: number, currentLearningRate: number) => number;
  /** Aborting stops training after the current batch, like {@link Trainer.stop}. */
  signal?: AbortSignal;
  /**
   * Clips the global L2 norm of each step's (accumulated) gradient as
   * `torch.nn.utils.clip_grad_norm_(params, max_norm)`: `g ← g·min(1, max/(‖g‖ + 1e-6))`. The
   * norm before clipping is logged per batch as `grad_norm`; a non-finite norm stops training.
   */
  clipGradNorm?: number;
  /**
   * Progress printed by {@link Trainer.fit}, as Keras's `verbose`: 0 silent, 1 a bar per epoch
   * closed by a line of losses, metrics and time, 2 one such line per epoch. Default `'auto'`: 1
   * when standard output is a terminal, else 0 (see {@link Verbosity}).
   */
  verbose?: Verbosity;
}

/**
 * Thrown when a batch's loss (or, with `clipGradNorm`, its gradient norm) is NaN or infinite; the
 * weights are left as they were before that batch.
 */
export class NonFiniteLossError extends Error {
  constructor(
    /** 0-based epoch of the failing batch. */
    readonly epoch: number,
    /** 0-based batch within the epoch. */
    readonly batch: number,
    /**
     * 1-based micro-batch that failed, or 0 without gradient accumulation (or for a gradient-norm failure).
     */
    readonly microBatch: number,
    /** The non-finite figures: `loss` and its parts, and `grad_norm` when clipping found it. */
    readonly logs: Logs,
  ) {
    super(
      `non-finite ${'grad_norm' in logs ? 'gradient norm' : 'loss'} at epoch ${epoch}, batch ${batch}` +
        (microBatch > 0 ? ` (micro-batch ${microBatch})` : '') +
        `: loss=${logs.loss}, segmentation_loss=${logs.segmentation_loss}, classification_loss=${logs.classification_loss}` +
        ('grad_norm' in logs ? `, grad_norm=${logs.grad_norm}. ` : '. ') +
        'The weights were not updated by this batch; lower the learning rate or check the data (NaN pixels, empty masks with a loss that cannot take them).',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** The JSON part of a {@link TrainerState}. */
export interface TrainerStateMeta {
  /** Marks the JSON as a trainer state; `decodeTrainerState` refuses anything else. */
  format: 'busi-trainer-state';
  /** Format version, bumped on an incompatible change. */
  version: 1;
  /** Epoch in progress (or next to start). */
  epoch: number;
  /** Batches of `epoch` already trained. */
  batchInEpoch: number;
  /** Optimizer steps taken. */
  globalStep: number;
  /** Shuffling PRNG state at the start of `epoch`. */
  rngState: number;
  /** Sample-weighted loss sums of the batches of `epoch` done so far. */
  epochSums: EpochSums;
  /** Per-epoch logs so far. */
  history: {
    /** Epoch numbers (0-based). */
    epoch: number[];
    /** Each quantity's per-epoch values. */
    history: Record<string, number[]>;
  };
  /** Each callback's `getState()` (null where it has none), in option order. */
  callbacks: unknown[];
  /** Optimizer class, configuration and iteration count. */
  optimizer: {
    /** tfjs class name, e.g. 'Adam'; a state only restores into the same class. */
    className: string;
    /** The optimizer's `getConfig()` (learning rate, betas, weight decay…). */
    config: tf.serialization.ConfigDict;
    /** Steps the optimizer has taken (Adam's bias correction needs it). */
    iterations: number;
  };
  /** How the epoch was cut into batches; a mid-epoch resume must cut it the same way. */
  batching?: Batching;
}

/** How an epoch was cut into batches. */
export interface Batching {
  /** Samples per batch. */
  batchSize: number;
  /** Whether the order was shuffled. */
  shuffle: boolean;
  /** Whether a short last batch was dropped. */
  dropLast: boolean;
  /** Training-set size of the last `fit`, or null before any. */
  trainSize: number | null;
}

/**
 * Everything needed to resume training besides the model weights: save the model (e.g.
 * `model.save`) and this (see {@link encodeTrainerState}), then restore both and call
 * {@link Trainer.setState}. The optimizer tensors are named by the weights' stable tfjs names
 * (layer path + '/' + weight), not by per-process variable names.
 */
export interface TrainerState {
  /** Counters, shuffling state, history, callback states and optimizer settings (JSON). */
  meta: TrainerStateMeta;
  /** Optimizer slots; owned by the state (dispose them when done). */
  optimizerWeights: NamedTensor[];
}

/** Running sums of the current epoch's losses, kept for a mid-epoch resume. */
export interface EpochSums {
  /** Sum of sample-weighted total losses. */
  loss: number;
  /** Sum of sample-weighted segmentation losses. */
  segmentation: number;
  /** Sum of sample-weighted classification losses. */
  classification: number;
  /** Samples seen so far this epoch. */
  samples: number;
}

let lambdaWarned = false;

/** Warns once per process about the deprecated `lambda` option. */
function warnLambdaOption(): void {
  if (lambdaWarned) return;
  lambdaWarned = true;
  console.warn('busi: Trainer option `lambda` is deprecated; pass `loss: new MultiTaskLoss({ lambda })` (λ has one home, the loss)');
}

const zeroSums = (): EpochSums => ({ loss: 0, segmentation: 0, classification: 0, samples: 0 });

/**
 * Trains a {@link MultiTaskModel} on `L = λ·L_seg + (1-λ)·L_cls` with seeded shuffling, gradient
 * accumulation, per-epoch validation, callbacks, a non-finite-loss guard, stop requests and a
 * resumable state.
 *
 * @example
 * ```ts
 * const trainer = new Trainer(model, {
 *   epochs: 50, batchSize: 8, microBatchSize: 2, optimizer: new AdamW({ learningRate: 1e-4 }),
 *   validationData: val, callbacks: [new EarlyStopping({ monitor: 'val_loss', patience: 10 })],
 * });
 * const history = await trainer.fit(train);
 * ```
 */
export class Trainer implements TrainingControl {
  readonly model: MultiTaskModel;
  readonly optimizer: tf.Optimizer;
  /** The training loss (`MultiTaskLoss` with λ unless given). */
  readonly loss: TrainingLoss;
  /** User callbacks, in the order their hooks run (the progress printer is not among them). */
  readonly callbacks: TrainingCallback[];
  /** Logs of every epoch this trainer has trained (restored by `setState`). */
  readonly history = new History();
  /** Epoch in progress, or the next one to start. */
  epoch = 0;
  /** Batches of {@link epoch} already trained. */
  batchInEpoch = 0;
  /** Optimizer steps taken. */
  globalStep = 0;
  private readonly opts: Required<
    Omit<TrainerOptions, 'optimizer' | 'loss' | 'lambda' | 'validationData' | 'callbacks' | 'learningRateSchedule' | 'signal' | 'metrics' | 'clipGradNorm' | 'verbose'>
  >;
  private readonly options: TrainerOptions;
  private readonly metrics: ValidationMetric[];
  private rngState: number;
  private epochSums = zeroSums();
  private stopRequested = false;
  private readonly ownsOptimizer: boolean;
  private trainSize: number | null = null;
  private resumedBatching: Batching | null = null;

  constructor(model: MultiTaskModel, options: TrainerOptions = {}) {
    this.model = model;
    this.options = options;
    const batchSize = options.batchSize ?? 8;
    this.opts = {
      epochs: options.epochs ?? 1,
      batchSize,
      microBatchSize: Math.min(options.microBatchSize ?? batchSize, batchSize),
      shuffle: options.shuffle ?? true,
      seed: options.seed ?? 0,
      dropLast: options.dropLast ?? false,
      validationBatchSize: options.validationBatchSize ?? batchSize,
    };
    for (const key of ['epochs', 'batchSize', 'microBatchSize', 'validationBatchSize'] as const) {
      const v = this.opts[key];
      if (!Number.isInteger(v) || v < (key === 'epochs' ? 0 : 1)) {
        throw new Error(`Trainer: ${key} must be a ${key === 'epochs' ? 'non-negative' : 'positive'} integer, got ${v}`);
      }
    }
    resolveVerbosity(options.verbose, { write: () => {}, interactive: false }); // rejects a bad value now, not at fit
    if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
      throw new Error(`Trainer: clipGradNorm must be > 0, got ${options.clipGradNorm}`);
    }
    if (options.lambda !== undefined) {
      if (options.loss) throw new Error('Trainer: give either `loss` or `lambda` (the weight of the default loss), not both');
      warnLambdaOption();
    }
    this.ownsOptimizer = options.optimizer === undefined;
    this.optimizer = options.optimizer ?? new Adam();
    this.loss = options.loss ?? new MultiTaskLoss(options.lambda === undefined ? {} : { lambda: options.lambda });
    this.callbacks = options.callbacks ?? [];
    this.metrics = options.metrics ?? [new MultiTaskMetrics({ numClasses: model.config.classes })];
    this.rngState = new Rng(this.opts.seed).state;
  }

  /** Releases the optimizer state if this trainer created the optimizer (a given optimizer stays the caller's). */
  dispose(): void {
    if (this.ownsOptimizer) this.optimizer.dispose();
  }

  /** Asks training to stop after the current batch, or before the next epoch when called from `onEpochEnd`. */
  stop(): void {
    this.stopRequested = true;
  }

  private get shouldStop(): boolean {
    return this.stopRequested || (this.options.signal?.aborted ?? false);
  }

  /** The optimizer's learning rate, where it has one. */
  get learningRate(): number | undefined {
    const lr = (this.optimizer as unknown as { learningRate?: unknown }).learningRate;
    return typeof lr === 'number' ? lr : undefined;
  }

  /**
   * Trains up to `epochs` (default: the constructor's), continuing from the current state, and
   * returns the history of every epoch trained by this trainer so far.
   */
  async fit(train: TrainingDataset, options: { epochs?: number } = {}): Promise<History> {
    const epochs = options.epochs ?? this.opts.epochs;
    const { batchSize, dropLast, shuffle } = this.opts;
    if (!(train.size > 0)) throw new Error(`Trainer.fit: the training set is empty (size ${train.size})`);
    const batchesPerEpoch = dropLast ? Math.floor(train.size / batchSize) : Math.ceil(train.size / batchSize);
    if (batchesPerEpoch === 0) {
      throw new Error(`Trainer.fit: dropLast with batchSize ${batchSize} leaves no batch from ${train.size} samples`);
    }
    const saved = this.resumedBatching;
    if (saved && this.batchInEpoch > 0) {
      const now: Batching = { batchSize, shuffle, dropLast, trainSize: train.size };
      const differs = (Object.keys(now) as Array<keyof Batching>).filter((k) => saved[k] !== null && saved[k] !== now[k]);
      if (differs.length > 0) {
        throw new Error(
          `Trainer.fit: cannot resume epoch ${this.epoch} at batch ${this.batchInEpoch}: ` +
            differs.map((k) => `${k} was ${saved[k]}, is ${now[k]}`).join('; ') +
            ' (a mid-epoch resume needs the same batching and training set)',
        );
      }
    }
    this.resumedBatching = null;
    this.trainSize = train.size;
    this.stopRequested = false;
    // The progress printer is no user callback: it has no state to save and is made per fit.
    const output = defaultProgressOutput();
    const verbose = resolveVerbosity(this.options.verbose, output);
    const hooks: TrainingCallback[] = verbose === 0 ? this.callbacks : [new ProgressLogger({ verbose, epochs, batchesPerEpoch, output }), ...this.callbacks];
    for (const cb of hooks) await cb.onTrainBegin?.(this);

    while (this.epoch < epochs && !this.shouldStop) {
      const epoch = this.epoch;
      if (this.batchInEpoch === 0) {
        const schedule = this.options.learningRateSchedule;
        if (schedule) this.setLearningRate(schedule(epoch, this.learningRate ?? NaN));
        for (const cb of hooks) await cb.onEpochBegin?.(epoch, this);
      }
      const rng = new Rng(this.rngState);
      const order = shuffle ? rng.permutation(train.size) : Array.from({ length: train.size }, (_, i) => i);
      const batches = batchIndices(order, batchSize, dropLast);

      while (this.batchInEpoch < batches.length && !this.shouldStop) {
        const b = this.batchInEpoch;
        const logs = await this.trainStep(train, batches[b], { epoch, batch: b });
        this.batchInEpoch = b + 1;
        this.globalStep += 1;
        const s = this.epochSums;
        s.loss += logs.loss * logs.size;
        s.segmentation += logs.segmentation_loss * logs.size;
        s.classification += logs.classification_loss * logs.size;
        s.samples += logs.size;
        for (const cb of hooks) await cb.onBatchEnd?.(b, logs, this);
        // Awaited promises alone never reach the event loop: without this, a Ctrl-C (or any timer
        // or I/O callback) would wait for the end of the epoch instead of the end of the batch.
        await yieldToEventLoop();
      }
      // Stopped mid-epoch: the state still says where, so a resume finishes this epoch.
      if (this.batchInEpoch < batches.length) break;

      const s = this.epochSums;
      const logs: Logs = {
        loss: s.loss / s.samples,
        segmentation_loss: s.segmentation / s.samples,
        classification_loss: s.classification / s.samples,
      };
      if (this.learningRate !== undefined) logs.lr = this.learningRate;
      if (this.options.validationData) {
        const val = await this.evaluate(this.options.validationData);
        for (const [k, v] of Object.entries(val)) logs[`val_${k}`] = v;
      }
      this.history.record(epoch, logs);
      // Advance before onEpochEnd, so a state saved there resumes at the next epoch.
      this.epoch = epoch + 1;
      this.batchInEpoch = 0;
      this.rngState = rng.state;
      this.epochSums = zeroSums();
      for (const cb of hooks) await cb.onEpochEnd?.(epoch, logs, this);
    }
    for (const cb of hooks) await cb.onTrainEnd?.(this.history, this);
    return this.history;
  }

  /**
   * One optimizer step on the samples at `indices` (accumulated over micro-batches). Returns the
   * batch's `loss`, `segmentation_loss`, `classification_loss` and `size`.
   * @throws NonFiniteLossError before updating anything if a micro-batch's loss is not finite.
   */
  async trainStep(data: TrainingDataset, indices: number[], where: { epoch: number; batch: number } = { epoch: this.epoch, batch: this.batchInEpoch }): Promise<Logs> {
    const { grads, logs } = await this.computeGradients(data, indices, where);
    try {
      const maxNorm = this.options.clipGradNorm;
      if (maxNorm !== undefined) {
        const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
        const value = (await norm.data())[0];
        norm.dispose();
        logs.grad_norm = value;
        if (!Number.isFinite(value)) throw new NonFiniteLossError(where.epoch, where.batch, 0, logs);
        const coef = maxNorm / (value + 1e-6);
        if (coef < 1) {
          for (const name of Object.keys(grads)) {
            const g = grads[name];
            grads[name] = tf.mul(g, coef);
            g.dispose();
          }
        }
      }
      this.optimizer.applyGradients(grads);
    } finally {
      tf.dispose(grads);
    }
    return logs;
  }

  /**
   * The gradient of the batch loss at `indices` with respect to every trainable variable (keyed by
   * variable name), summed over micro-batches weighted by their share of the batch, in training
   * mode (BatchNorm running statistics are updated once per micro-batch). The caller disposes the
   * gradients. Exact for losses that are means over samples; a loss pooled over the batch (smp's
   * Dice sums intersections over the whole batch) is approximated by the weighted mean of its
   * micro-batch values, as PyTorch gradient accumulation does. `where.microBatch` numbers the first
   * micro-batch (default 0) for the dropout seeds: a data-parallel worker computing micro-batch k of
   * a batch passes k and draws the masks this trainer would.
   */
  async computeGradients(
    data: TrainingDataset,
    indices: number[],
    where: { epoch: number; batch: number; microBatch?: number } = { epoch: this.epoch, batch: this.batchInEpoch },
  ): Promise<{
    /** Gradient per trainable variable name; the caller disposes them. */
    grads: tf.NamedTensorMap;
    /** The batch's `loss`, `segmentation_loss`, `classification_loss` and `size`. */
    logs: Logs;
  }> {
    if (indices.length === 0) throw new Error('Trainer: a batch needs at least one sample');
    const vars = this.model.trainableVariables();
    if (vars.length === 0) throw new Error('Trainer: the model has no trainable weights');
    const micro = this.opts.microBatchSize;
    const chunks = batchIndices(indices, micro, false);
    const acc: tf.NamedTensorMap = {};
    const logs: Logs = { loss: 0, segmentation_loss: 0, classification_loss: 0, size: indices.length };
    try {
      for (let k = 0; k < chunks.length; k++) {
        const chunk = chunks[k];
        const weight = chunk.length / indices.length;
        const batch = await data.getBatch(chunk, { training: true, epoch: where.epoch });
        const kept: { parts?: tf.Tensor } = {};
        let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
        try {
          checkBatch(batch, chunk.length, this.model);
          await checkLabels(batch.labels, this.model.config.classes);
          // tf.variableGrads' numbers, with the backward pass's memory released as it goes.
          result = releasingVariableGrads(() => {
            // Dropout masks keyed by (seed, epoch, batch, micro-batch): a resumed run draws the same ones.
            const out = this.model.forward(batch.images, true, { seed: mixSeed(this.opts.seed, where.epoch, where.batch, (where.microBatch ?? 0) + k) });
            const p = this.loss.compute(out.mask, batch.masks, out.logits, batch.labels);
            kept.parts = tf.keep(tf.stack([p.total, p.segmentation, p.classification]));
            return tf.mul(p.total, weight) as tf.Scalar;
          }, vars);
          const [total, seg, cls] = await kept.parts!.data();
          if (![total, seg, cls].every(Number.isFinite)) {
            throw new NonFiniteLossError(where.epoch, where.batch, chunks.length > 1 ? k + 1 : 0, {
              loss: total,
              segmentation_loss: seg,
              classification_loss: cls,
            });
          }
          logs.loss += weight * total;
          logs.segmentation_loss += weight * seg;
          logs.classification_loss += weight * cls;
          for (const [name, g] of Object.entries(result.grads)) {
            const prev = acc[name];
            acc[name] = prev ? tf.add(prev, g) : g;
            if (prev) tf.dispose([prev, g]);
          }
        } catch (e) {
          if (result) tf.dispose(result.grads);
          throw e;
        } finally {
          tf.dispose([batch.images, batch.masks, batch.labels]);
          kept.parts?.dispose();
          if (result) result.value.dispose();
        }
      }
    } catch (e) {
      tf.dispose(acc);
      throw e;
    }
    return { grads: acc, logs };
  }

  /**
   * Loss (and metrics) of `data` in inference mode, as sample-weighted means:
   * `loss`, `segmentation_loss`, `classification_loss`, then each metric's results.
   */
  async evaluate(data: TrainingDataset, batchSize = this.opts.validationBatchSize): Promise<Logs> {
    if (!(data.size > 0)) throw new Error(`Trainer.evaluate: the dataset is empty (size ${data.size})`);
    const metrics = this.metrics;
    const asyncMetrics = metrics.filter((m) => m.updateAsync);
    for (const m of metrics) m.reset();
    const sums = zeroSums();
    const order = Array.from({ length: data.size }, (_, i) => i);
    for (const chunk of batchIndices(order, batchSize, false)) {
      const batch = await data.getBatch(chunk, { training: false, epoch: Math.max(0, this.epoch - (this.batchInEpoch === 0 ? 1 : 0)) });
      try {
        checkBatch(batch, chunk.length, this.model);
        const { parts, out } = tf.tidy(() => {
          const out = this.model.forward(batch.images, false);
          const p = this.loss.compute(out.mask, batch.masks, out.logits, batch.labels);
          for (const m of metrics) if (!m.updateAsync) m.update(out, batch);
          const kept = asyncMetrics.length ? { mask: out.mask, logits: out.logits } : undefined;
          return { parts: tf.stack([p.total, p.segmentation, p.classification]), out: kept };
        }) as { parts: tf.Tensor; out?: MultiTaskOutput };
        let values: Float32Array;
        try {
          for (const m of asyncMetrics) await m.updateAsync!(out!, batch);
          values = (await parts.data()) as Float32Array;
        } finally {
          tf.dispose([parts, ...(out ? [out.mask, out.logits] : [])]);
        }
        const [total, seg, cls] = values;
        sums.loss += total * chunk.length;
        sums.segmentation += seg * chunk.length;
        sums.classification += cls * chunk.length;
        sums.samples += chunk.length;
      } finally {
        tf.dispose([batch.images, batch.masks, batch.labels]);
      }
    }
    const logs: Logs = {
      loss: sums.loss / sums.samples,
      segmentation_loss: sums.segmentation / sums.samples,
      classification_loss: sums.classification / sums.samples,
    };
    for (const m of metrics) Object.assign(logs, m.result());
    return logs;
  }

  private setLearningRate(lr: number): void {
    if (!(lr >= 0)) throw new Error(`Trainer: learningRateSchedule returned ${lr}`);
    const opt = this.optimizer as unknown as { learningRate?: unknown };
    if (typeof opt.learningRate !== 'number') throw new Error('Trainer: learningRateSchedule needs an optimizer with a numeric `learningRate` field');
    opt.learningRate = lr;
  }

  // Variable names carry a per-process suffix (`_1`) when a model is built twice; originalName does not.
  private stableNames(): { toStable: Map<string, string>; fromStable: Map<string, string> } {
    const weights = this.model.model.trainableWeights;
    const original = weights.map((w) => w.originalName);
    const unique = new Set(original).size === original.length;
    const toStable = new Map<string, string>();
    const fromStable = new Map<string, string>();
    weights.forEach((w, i) => {
      const stable = unique ? original[i] : `${i}:${original[i]}`;
      const name = (w.read() as tf.Variable).name;
      toStable.set(name, stable);
      fromStable.set(stable, name);
    });
    return { toStable, fromStable };
  }

  /** A snapshot of everything but the model weights needed to resume; see {@link TrainerState}. */
  async getState(): Promise<TrainerState> {
    const { toStable } = this.stableNames();
    const weights = await this.optimizer.getWeights();
    const optimizerWeights = weights.map(({ name, tensor }) => ({ name: renameSlot(name, toStable), tensor }));
    return {
      meta: {
        format: 'busi-trainer-state',
        version: 1,
        epoch: this.epoch,
        batchInEpoch: this.batchInEpoch,
        globalStep: this.globalStep,
        rngState: this.rngState,
        epochSums: { ...this.epochSums },
        history: this.history.toJSON(),
        callbacks: this.callbacks.map((cb) => (cb.getState ? cb.getState() : null)),
        optimizer: {
          className: this.optimizer.getClassName(),
          config: this.optimizer.getConfig(),
          iterations: this.optimizer.iterations,
        },
        batching: { batchSize: this.opts.batchSize, shuffle: this.opts.shuffle, dropLast: this.opts.dropLast, trainSize: this.trainSize },
      },
      optimizerWeights,
    };
  }

  /**
   * Restores a state from {@link getState} into this trainer (built with the same kind of
   * optimizer and callbacks, on a model holding the weights saved with the state). The state's
   * tensors are copied; the caller still owns them.
   */
  async setState(state: TrainerState): Promise<void> {
    const { meta } = state;
    if (meta?.format !== 'busi-trainer-state' || meta.version !== 1) {
      throw new Error('Trainer.setState: not a busi trainer state (format busi-trainer-state, version 1)');
    }
    const cls = this.optimizer.getClassName();
    if (meta.optimizer.className !== cls) {
      throw new Error(`Trainer.setState: the state is for a ${meta.optimizer.className} optimizer, this trainer has ${cls}`);
    }
    if (meta.callbacks.length !== this.callbacks.length) {
      throw new Error(`Trainer.setState: the state has ${meta.callbacks.length} callback state(s), this trainer has ${this.callbacks.length} callback(s)`);
    }
    const { fromStable } = this.stableNames();
    const current = new Set(fromStable.values());
    const renamed = state.optimizerWeights.map(({ name, tensor }) => {
      const n = renameSlot(name, fromStable);
      const cut = n.lastIndexOf('/');
      if (name !== 'iter' && !current.has(n.slice(0, cut))) {
        throw new Error(`Trainer.setState: optimizer entry '${name}' names no trainable weight of this model`);
      }
      return { name: n, tensor };
    });
    await this.optimizer.setWeights(renamed);
    const lr = meta.optimizer.config.learningRate;
    if (typeof lr === 'number' && this.learningRate !== undefined) this.setLearningRate(lr);
    this.epoch = meta.epoch;
    this.batchInEpoch = meta.batchInEpoch;
    this.globalStep = meta.globalStep;
    this.rngState = meta.rngState;
    this.epochSums = { ...meta.epochSums };
    this.resumedBatching = meta.batching ?? null;
    const h = History.fromJSON(meta.history);
    this.history.epoch = h.epoch;
    this.history.history = h.history;
    this.callbacks.forEach((cb, i) => {
      if (meta.callbacks[i] != null) cb.setState?.(meta.callbacks[i]);
    });
  }
}

function renameSlot(name: string, map: Map<string, string>): string {
  const cut = name.lastIndexOf('/');
  if (cut < 0) return name;
  const mapped = map.get(name.slice(0, cut));
  return mapped === undefined ? name : `${mapped}${name.slice(cut)}`;
}

function checkBatch(batch: TrainingBatch, n: number, model: MultiTaskModel): void {
  const { images, masks, labels } = batch;
  model.validateInput(images.shape, 'training images');
  if (images.shape[0] !== n) throw new Error(`Trainer: getBatch returned ${images.shape[0]} images for ${n} indices`);
  if (masks.rank !== 4 || masks.shape[0] !== n || masks.shape[1] !== images.shape[1] || masks.shape[2] !== images.shape[2]) {
    throw new Error(`Trainer: masks must be [${n}, ${images.shape[1]}, ${images.shape[2]}, 1], got [${masks.shape}]`);
  }
  if (labels.shape[0] !== n) throw new Error(`Trainer: labels must have length ${n}, got [${labels.shape}]`);
}

async function checkLabels(labels: tf.Tensor, classes: number): Promise<void> {
  const values = await labels.data();
  for (const v of values) {
    if (!(Number.isInteger(v) && v >= 0 && v < classes)) {
      throw new Error(`Trainer: labels must be class indices in [0, ${classes - 1}] for this ${classes}-class model, got ${v}`);
    }
  }
}

/** Lets pending macrotasks (signal handlers, timers, I/O) run; setImmediate in Node, a 0 ms timeout elsewhere. */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

/** Trains `model` on `data` with a new {@link Trainer}; returns the history. */
export async function train(model: MultiTaskModel, data: TrainingDataset, options: TrainerOptions = {}): Promise<History> {
  return new Trainer(model, options).fit(data);
}

/**
 * Serialises a {@link TrainerState} to a JSON object and one binary buffer (tfjs weight
 * encoding), for writing to disk (@busi/node) or elsewhere.
 */
export async function encodeTrainerState(state: TrainerState): Promise<{
  /** The state's JSON part plus the layout of `data`. */
  json: TrainerStateMeta & {
    /** Name, shape and dtype of each optimizer slot in `data`, in order. */
    weightSpecs: tf.io.WeightsManifestEntry[];
  };
  /** The optimizer slots' values, concatenated (tfjs weight encoding). */
  data: ArrayBuffer;
}> {
  const { data, specs } = await tf.io.encodeWeights(state.optimizerWeights);
  return { json: { ...structuredClone(state.meta), weightSpecs: specs }, data };
}

/** Inverse of {@link encodeTrainerState}; the returned state owns its tensors. */
export function decodeTrainerState(
  encoded: { json: TrainerStateMeta & { weightSpecs: tf.io.WeightsManifestEntry[] }; data: ArrayBuffer },
  source = 'trainer state',
): TrainerState {
  const json = encoded.json as unknown;
  if (json === null || typeof json !== 'object' || (json as { format?: unknown }).format !== 'busi-trainer-state') {
    throw new Error(`${source}: not a busi trainer state (expected "format": "busi-trainer-state")`);
  }
  const { weightSpecs: rawSpecs, ...meta } = encoded.json;
  for (const key of ['epoch', 'batchInEpoch', 'globalStep'] as const) {
    if (!Number.isSafeInteger(meta[key]) || meta[key] < 0) throw new Error(`${source}: ${key} is ${previewJson(meta[key])}, expected a non-negative integer`);
  }
  const weightSpecs = checkWeightSpecs(rawSpecs, encoded.data.byteLength, `${source} (optimizer slots)`);
  const map = tf.io.decodeWeights(encoded.data, weightSpecs);
  // decodeWeights returns a map; keep the spec order ('iter' first, as setWeights expects).
  return { meta: meta as TrainerStateMeta, optimizerWeights: weightSpecs.map((s) => ({ name: s.name, tensor: map[s.name] })) };
}
