import type * as tf from '@tensorflow/tfjs-core';
import type { MultiTaskModel } from '../model/multi-task-model';

/** Numbers logged after a batch or an epoch, e.g. `loss`, `val_loss`, `val_dice`, `lr`. */
export type Logs = Record<string, number>;

/** What a callback can see of and do to the running training. */
export interface TrainingControl {
  /** The model being trained. */
  readonly model: MultiTaskModel;
  /** The optimizer. */
  readonly optimizer: tf.Optimizer;
  /** Asks training to stop after the current batch (or, from `onEpochEnd`, before the next epoch). */
  stop(): void;
}

/**
 * Hooks into {@link Trainer.fit}. Epoch and batch numbers are 0-based; every hook may be async.
 * A callback with state that should survive a resume implements `getState` / `setState`.
 */
export interface TrainingCallback {
  /** Once at the start of each `fit`, before the first epoch (also on a resumed fit). */
  onTrainBegin?(control: TrainingControl): void | Promise<void>;
  /** At the start of each epoch, after the learning-rate schedule has set that epoch's rate. */
  onEpochBegin?(epoch: number, control: TrainingControl): void | Promise<void>;
  /** After each optimizer step; `logs` holds that batch's `loss`, `segmentation_loss`, `classification_loss`, `size`. */
  onBatchEnd?(batch: number, logs: Logs, control: TrainingControl): void | Promise<void>;
  /** After each epoch (and its validation); `logs` holds the epoch means and validation results. */
  onEpochEnd?(epoch: number, logs: Logs, control: TrainingControl): void | Promise<void>;
  /** Once when `fit` returns (all epochs done, or stopped); `history` covers every epoch trained so far. */
  onTrainEnd?(history: History, control: TrainingControl): void | Promise<void>;
  /** JSON-serialisable state saved with the trainer state. */
  getState?(): unknown;
  /** Restores what `getState` returned (after a JSON round trip: ±Infinity reads back as null). */
  setState?(state: unknown): void;
}

/** Per-epoch logs of a training run: `history.loss[i]` is the loss of `epoch[i]`. */
export class History {
  /** Epoch numbers (0-based). */
  epoch: number[] = [];
  /** Each logged quantity, one value per recorded epoch (NaN where an epoch lacked it). */
  history: Record<string, number[]> = {};

  /** Appends one epoch's logs; a quantity new in this epoch is back-filled with NaN for earlier ones. */
  record(epoch: number, logs: Logs): void {
    const n = this.epoch.length;
    this.epoch.push(epoch);
    for (const key of Object.keys(logs)) {
      if (!(key in this.history)) this.history[key] = new Array<number>(n).fill(NaN);
    }
    for (const key of Object.keys(this.history)) this.history[key].push(logs[key] ?? NaN);
  }

  /** The logs of the `i`-th recorded epoch. */
  logs(i: number): Logs {
    return Object.fromEntries(Object.entries(this.history).map(([k, v]) => [k, v[i]]));
  }

  /** A deep copy as plain JSON data, stored in the trainer state and the run folder. */
  toJSON(): {
    /** Epoch numbers (0-based). */
    epoch: number[];
    /** Each quantity's values, one per epoch (NaN where missing; JSON writes it as null). */
    history: Record<string, number[]>;
  } {
    return { epoch: [...this.epoch], history: structuredClone(this.history) };
  }

  /** Rebuilds a history from `toJSON`'s output (nulls, JSON's NaN, read back as NaN). */
  static fromJSON(json: { epoch: number[]; history: Record<string, number[]> }): History {
    const h = new History();
    h.epoch = [...json.epoch];
    // JSON writes NaN (an epoch without that quantity) as null.
    h.history = Object.fromEntries(Object.entries(json.history).map(([k, v]) => [k, v.map((x) => x ?? NaN)]));
    return h;
  }
}

/** Whether a monitored quantity should go down ('min') or up ('max'); 'auto' guesses from its name. */
export type MonitorMode = 'min' | 'max' | 'auto';

function resolveMode(mode: MonitorMode, monitor: string): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  if (mode !== 'auto') throw new Error(`mode must be 'min', 'max' or 'auto', got '${String(mode)}'`);
  return /acc|f1|iou|dice|auc|precision|recall|sensitivity|specificity/i.test(monitor) ? 'max' : 'min';
}

function monitored(logs: Logs, monitor: string, who: string): number {
  const v = logs[monitor];
  if (v === undefined) {
    throw new Error(
      `${who}: the monitored quantity '${monitor}' is not in the epoch logs (available: ${Object.keys(logs).join(', ')}); ` +
        `'val_*' quantities need validation data`,
    );
  }
  return v;
}

/** Constructor arguments of {@link EarlyStopping}. */
export interface EarlyStoppingArgs {
  /** Epoch-log quantity to watch. Default 'val_loss'. */
  monitor?: string;
  /** Epochs without improvement after which training stops. Default 0 (stop at the first). */
  patience?: number;
  /** Whether lower or higher is better. Default 'auto' (max for accuracy/F1/IoU/Dice-like names). */
  mode?: MonitorMode;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** On stopping, put back the weights of the best epoch (kept as an in-memory copy). Default false. */
  restoreBestWeights?: boolean;
}

/**
 * Stops training once `monitor` has not improved for `patience` epochs (Keras semantics: an
 * epoch that improves by more than `minDelta` resets the count).
 */
export class EarlyStopping implements TrainingCallback {
  /** Epoch-log quantity watched, e.g. 'val_loss'. */
  readonly monitor: string;
  /** Epochs without improvement tolerated before stopping. */
  readonly patience: number;
  /** Whether lower ('min') or higher ('max') is better, resolved from 'auto' by the quantity's name. */
  readonly mode: 'min' | 'max';
  /** Smallest change (absolute) that counts as an improvement. */
  readonly minDelta: number;
  /** Whether stopping puts back the best epoch's weights (kept as an in-memory copy meanwhile). */
  readonly restoreBestWeights: boolean;
  /** Best value seen so far. */
  best: number;
  /** Epoch of {@link best}, or -1. */
  bestEpoch = -1;
  /** Epochs since the last improvement. */
  wait = 0;
  /** The epoch at which it stopped training, or -1. */
  stoppedEpoch = -1;
  private bestWeights: tf.Tensor[] | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    this.monitor = args.monitor ?? 'val_loss';
    this.patience = args.patience ?? 0;
    this.mode = resolveMode(args.mode ?? 'auto', this.monitor);
    this.minDelta = Math.abs(args.minDelta ?? 0);
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    if (!Number.isInteger(this.patience) || this.patience < 0) {
      throw new Error(`EarlyStopping: patience must be a non-negative integer, got ${this.patience}`);
    }
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private improves(v: number): boolean {
    return this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta;
  }

  onEpochEnd(epoch: number, logs: Logs, control: TrainingControl): void {
    const v = monitored(logs, this.monitor, 'EarlyStopping');
    if (this.improves(v)) {
      this.best = v;
      this.bestEpoch = epoch;
      this.wait = 0;
      if (this.restoreBestWeights) {
        this.releaseBest();
        this.bestWeights = control.model.model.getWeights().map((w) => w.clone());
      }
      return;
    }
    this.wait += 1;
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      control.stop();
      if (this.restoreBestWeights && this.bestWeights) control.model.model.setWeights(this.bestWeights);
    }
  }

  /** Releases the in-memory copy of the best weights. */
  onTrainEnd(): void {
    this.releaseBest();
  }

  private releaseBest(): void {
    if (this.bestWeights) for (const w of this.bestWeights) w.dispose();
    this.bestWeights = null;
  }

  getState(): unknown {
    return { best: this.best, bestEpoch: this.bestEpoch, wait: this.wait, stoppedEpoch: this.stoppedEpoch };
  }

  /** Restores best value, best epoch, wait count and stop epoch from `getState`. */
  setState(state: unknown): void {
    const s = state as { best: number | null; bestEpoch: number; wait: number; stoppedEpoch: number };
    // JSON turns ±Infinity into null.
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.bestEpoch = s.bestEpoch;
    this.wait = s.wait;
    this.stoppedEpoch = s.stoppedEpoch;
  }
}

/** Constructor arguments of {@link ModelCheckpoint}. */
export interface ModelCheckpointArgs {
  /** Writes the model (file IO lives in @busi/node, e.g. `model.save('file://…')`). */
  save: (model: MultiTaskModel, epoch: number, logs: Logs) => Promise<void>;
  /** Epoch-log quantity that decides what "best" is. Default 'val_loss'. */
  monitor?: string;
  /** Save only when `monitor` improves on the best so far; otherwise after every epoch. Default false. */
  saveBestOnly?: boolean;
  /** Whether lower or higher is better. Default 'auto'. */
  mode?: MonitorMode;
}

/** Saves the model at the end of every epoch, or only when the monitored quantity improves. */
export class ModelCheckpoint implements TrainingCallback {
  /** Epoch-log quantity that decides what the best epoch is. */
  readonly monitor: string;
  /** Save only on an improvement of `monitor` (else after every epoch). */
  readonly saveBestOnly: boolean;
  /** Whether lower or higher `monitor` is better, resolved from 'auto'. */
  readonly mode: 'min' | 'max';
  /** Best monitored value seen so far. */
  best: number;
  /** Epochs at which `save` was called. */
  readonly savedEpochs: number[] = [];
  private readonly save: ModelCheckpointArgs['save'];

  constructor(args: ModelCheckpointArgs) {
    if (typeof args?.save !== 'function') throw new Error('ModelCheckpoint: `save(model, epoch, logs)` is required');
    this.save = args.save;
    this.monitor = args.monitor ?? 'val_loss';
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.mode = resolveMode(args.mode ?? 'auto', this.monitor);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  async onEpochEnd(epoch: number, logs: Logs, control: TrainingControl): Promise<void> {
    if (this.saveBestOnly) {
      const v = monitored(logs, this.monitor, 'ModelCheckpoint');
      if (!(this.mode === 'min' ? v < this.best : v > this.best)) return;
      this.best = v;
    }
    await this.save(control.model, epoch, logs);
    this.savedEpochs.push(epoch);
  }

  getState(): unknown {
    return { best: this.best };
  }

  /** Restores the best value from `getState`, so a resumed run does not save a worse epoch as best. */
  setState(state: unknown): void {
    const s = state as { best: number | null };
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
  }
}

/** Constructor arguments of {@link ReduceLROnPlateau}. */
export interface ReduceLROnPlateauArgs {
  /** Epoch-log quantity to watch. Default 'val_loss'. */
  monitor?: string;
  /** Multiplies the learning rate on a plateau. Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  /** Whether lower or higher is better. Default 'auto'. */
  mode?: MonitorMode;
  /** Smallest change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** Lower bound of the learning rate. Default 0. */
  minLearningRate?: number;
}

/**
 * Multiplies the optimizer's `learningRate` by `factor` once `monitor` has not improved for
 * `patience` epochs (Keras semantics, absolute `minDelta`). Do not combine with a trainer
 * `learningRateSchedule`, which would overwrite the reduced rate at the next epoch.
 */
export class ReduceLROnPlateau implements TrainingCallback {
  /** Epoch-log quantity watched, e.g. 'val_loss'. */
  readonly monitor: string;
  /** Multiplier in (0, 1) applied to the learning rate on a plateau. */
  readonly factor: number;
  /** Epochs without improvement before a reduction. */
  readonly patience: number;
  /** Whether lower or higher is better, resolved from 'auto'. */
  readonly mode: 'min' | 'max';
  /** Smallest change (absolute) that counts as an improvement. */
  readonly minDelta: number;
  /** Epochs after a reduction during which no new plateau is counted. */
  readonly cooldown: number;
  /** Floor of the learning rate: reductions never go below it. */
  readonly minLearningRate: number;
  /** Best monitored value so far (±Infinity before the first epoch). */
  best: number;
  /** Epochs since the last improvement. */
  wait = 0;
  /** Epochs of cooldown still to run. */
  cooldownLeft = 0;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    this.monitor = args.monitor ?? 'val_loss';
    this.factor = args.factor ?? 0.1;
    this.patience = args.patience ?? 10;
    this.mode = resolveMode(args.mode ?? 'auto', this.monitor);
    this.minDelta = Math.abs(args.minDelta ?? 1e-4);
    this.cooldown = args.cooldown ?? 0;
    this.minLearningRate = args.minLearningRate ?? 0;
    if (!(this.factor > 0 && this.factor < 1)) throw new Error(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.factor}`);
    if (!Number.isInteger(this.patience) || this.patience < 0) {
      throw new Error(`ReduceLROnPlateau: patience must be a non-negative integer, got ${this.patience}`);
    }
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(_epoch: number, logs: Logs, control: TrainingControl): void {
    const v = monitored(logs, this.monitor, 'ReduceLROnPlateau');
    if (this.cooldownLeft > 0) {
      this.cooldownLeft -= 1;
      this.wait = 0;
    }
    if (this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta) {
      this.best = v;
      this.wait = 0;
      return;
    }
    if (this.cooldownLeft > 0) return;
    this.wait += 1;
    if (this.wait >= this.patience) {
      const opt = control.optimizer as unknown as { learningRate?: unknown };
      if (typeof opt.learningRate !== 'number') throw new Error('ReduceLROnPlateau: the optimizer has no numeric `learningRate` field');
      opt.learningRate = Math.max(opt.learningRate * this.factor, this.minLearningRate);
      this.cooldownLeft = this.cooldown;
      this.wait = 0;
    }
  }

  getState(): unknown {
    return { best: this.best, wait: this.wait, cooldownLeft: this.cooldownLeft };
  }

  /** Restores best value, wait count and cooldown from `getState`. */
  setState(state: unknown): void {
    const s = state as { best: number | null; wait: number; cooldownLeft: number };
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.wait = s.wait;
    this.cooldownLeft = s.cooldownLeft;
  }
}
