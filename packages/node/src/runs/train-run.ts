import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  Adam,
  AdamW,
  EarlyStopping,
  ModelCheckpoint,
  MultiTaskMetrics,
  NonFiniteLossError,
  Trainer,
  type Logs,
  type MultiTaskModel,
  type TrainingCallback,
} from '@busi/core';
import { MultiTaskLoss } from '@busi/losses';
import type { CliContext } from '../cli/args';
import { SampleDataset } from '@busi/data';
import { IMAGENET_NORMALIZATION } from '@busi/data';
import type { SplitIndices } from '@busi/data';
import { fileSystem } from '@busi/data';
import { createModel } from '../models/factory';
import { formatDuration, ProgressBar, RunningMean } from '../report/progress';
import { loadData, type LoadedData } from './data';
import { loadEncoderWeights } from './encoder-weights';
import { makeRunSplit, readRunSplit, selectionPart } from './run-split';
import { acquireRunLock, type RunLock } from './run-lock';
import { incompleteReason } from './folder-swap';
import { cardWithMetrics, runModelCard } from './model-card';
import type { RunConfig } from './run-config';
import {
  RUN_FILES,
  cleanRunFolder,
  createRunFolder,
  findCheckpoint,
  historyCsv,
  loadCheckpoint,
  readJson,
  saveCheckpoint,
  writeJsonAtomic,
  writeFileAtomic,
  type RunStatus,
} from './run-folder';
import { nounForm, pluralize } from '@busi/core';

export type { RunConfig } from './run-config';

/** The state of a run's validation monitor between sessions; `extra.json` of a checkpoint. */
interface CheckpointExtra {
  seconds: number[];
  bestEpoch: number | null;
}

/** Options of {@link trainRun} that are not part of the run's configuration. */
export interface TrainSessionOptions {
  /** Continue the run in `dir` from its last checkpoint. */
  resume?: boolean;
  /** Replace a non-empty `dir`. */
  force?: boolean;
  /** Stop after this many epochs in this session (the run stays resumable). */
  maxEpochsThisRun?: number;
  /** No progress bars. */
  quiet?: boolean;
  /** Backend name for the record. */
  backend: string;
  /**
   * Aborting stops training after the current batch; a mid-epoch state is then checkpointed, so
   * `--resume` continues with the next batch (the CLI aborts on the first Ctrl-C).
   */
  signal?: AbortSignal;
  /**
   * The lock of `dir` when the caller already holds it (e.g. to update config.json before
   * resuming); trainRun then leaves releasing it to the caller. Otherwise trainRun takes the lock
   * itself (see run-lock) and releases it when it returns, unless `keepLock`.
   */
  lock?: RunLock;
  /** Hand the lock trainRun took to the caller as {@link TrainResult.lock} (to evaluate into the run folder under it). */
  keepLock?: boolean;
  /** Observers (progress displays, tests); not part of the resumable state. */
  onBatchEnd?: (epoch: number, batch: number, logs: Logs) => void;
  /** Called after each epoch's validation with that epoch's logs. */
  onEpochEnd?: (epoch: number, logs: Logs) => void;
}

/** What a training session did. */
export interface TrainResult {
  /** Where the run stands after this session, as written to status.json. */
  status: RunStatus;
  /** Logs of the best epoch, if any. */
  best: Logs | null;
  /** The loaded data (for a report on the run's report part). */
  data: LoadedData;
  /** The run's split, as indices into `data`. */
  split: SplitIndices;
  /** The run folder's lock, with `keepLock` (release it when done). */
  lock?: RunLock;
}

/** `busi train`'s work: trains `config` into the run folder `dir` (or resumes it). */
export async function trainRun(config: RunConfig, dir: string, session: TrainSessionOptions, ctx: CliContext): Promise<TrainResult> {
  let lock: RunLock | null = session.lock ?? (session.resume ? acquireRunLock(dir) : null);
  const ownsLock = !session.lock;
  let handedOver = false;
  try {
    const result = await trainLocked(config, dir, session, ctx, (l) => {
      lock = l;
    });
    if (session.keepLock && ownsLock && lock) {
      handedOver = true;
      return { ...result, lock };
    }
    return result;
  } finally {
    if (ownsLock && !handedOver) (lock as RunLock | null)?.release();
  }
}

async function trainLocked(config: RunConfig, dir: string, session: TrainSessionOptions, ctx: CliContext, locked: (lock: RunLock) => void): Promise<TrainResult> {
  const say = (s: string) => ctx.stdout.write(`${s}\n`);
  const t0 = Date.now();
  checkMonitor(config.monitor, config.classNames);
  const data = loadData(config.data, config.size, config.cache === 'disk' ? { dir: path.join(dir, '..', '.busi-cache') } : config.cache);
  say(`data: ${data.describe}`);
  const { split, file: splitFile } = session.resume ? { split: readRunSplit(dir, data), file: null } : await makeRunSplit(config, data, ctx);
  const counts = (idx: number[]) => data.classNames.map((c, k) => `${idx.filter((i) => data.labels[i] === k).length} ${c}`).join(', ');
  const validation = selectionPart(split);
  say(
    `split: train ${split.train.length} (${counts(split.train)}), validation ${validation.length} (${counts(validation)})` +
      (split.validation ? `, test ${split.test.length} (${counts(split.test)})` : ''),
  );
  if (validation.length === 0) throw new Error('the validation part of the split is empty; use more images or a larger --val-fraction');

  let checkpoint: string | null = null;
  if (session.resume) {
    cleanRunFolder(dir);
    const found = findCheckpoint(dir);
    checkpoint = found.dir;
    if (!checkpoint) {
      if (found.incomplete.length > 0) {
        throw new Error(`cannot resume '${dir}': its checkpoint ${found.incomplete.map((d) => `'${d}'`).join(', ')} is incomplete (${missingCheckpointFiles(found.incomplete[0])}) and there is no complete one; starting over would discard the trained epochs. Restore the files, or start a new run with --force`);
      }
      const st = readStatus(dir);
      if (st && st.epochsDone > 0) {
        throw new Error(`cannot resume '${dir}': status.json says ${pluralize(st.epochsDone, 'epoch')} ${nounForm(st.epochsDone, 'was', 'were')} trained but the run has no checkpoint folder; starting over would discard ${nounForm(st.epochsDone, 'it', 'them')}. Restore '${path.join(dir, RUN_FILES.checkpoint)}', or start a new run with --force`);
      }
    }
  }
  let model: MultiTaskModel | null = null;
  let extra: CheckpointExtra = { seconds: [], bestEpoch: null };
  let state: Awaited<ReturnType<typeof loadCheckpoint>>['state'] | null = null;
  if (checkpoint) {
    const loaded = await loadCheckpoint<CheckpointExtra>(checkpoint);
    model = loaded.model;
    state = loaded.state;
    extra = loaded.extra;
    say(`resuming from ${checkpoint}: epoch ${state.meta.epoch} of ${config.epochs} done`);
  } else {
    model = buildModel(config);
    if (config.encoderWeights) {
      try {
        const r = loadEncoderWeights(model, config.encoderWeights);
        say(`loaded ${pluralize(r.loaded, 'pretrained weight')} from ${config.encoderWeights}`);
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
  }
  if (config.size % model.outputStride !== 0) {
    const s = model.outputStride;
    const lo = Math.max(s, Math.floor(config.size / s) * s);
    model.dispose();
    throw new Error(`--size ${config.size} is not divisible by the model's output stride ${s}; nearest valid sizes: ${lo} or ${lo + s}`);
  }
  if (!session.resume) {
    // Every image is decoded once before the run folder exists: a corrupt file fails here, not in epoch 1.
    await checkImages(data);
    const created = createRunFolder(
      dir,
      {
        [RUN_FILES.config]: `${JSON.stringify(config, null, 2)}\n`,
        [RUN_FILES.split]: `${JSON.stringify(splitFile, null, 1)}\n`,
        [RUN_FILES.status]: `${JSON.stringify(status('training', 0, config.epochs, null))}\n`,
      },
      !!session.force,
    );
    locked(created);
  }
  const card = runModelCard(config, data, split);
  if (!model.card) model.setCard(card);
  say(`model: ${config.encoder} + ${config.decoder}, ${model.countParams().total.toLocaleString('en-US')} parameters; run folder ${dir}`);

  const optimizer =
    config.optimizer === 'adamw'
      ? new AdamW({ learningRate: config.lr, weightDecay: config.weightDecay })
      : new Adam({ learningRate: config.lr, weightDecay: config.weightDecay });
  const norm = config.normalization;
  const train = new SampleDataset(data.source, { normalization: norm, augment: config.augment, seed: config.seed }, split.train);
  const val = new SampleDataset(data.source, { normalization: norm }, validation);
  const batches = Math.ceil(split.train.length / config.batchSize);
  // BatchNorm cannot train on one sample at a 1x1 map: drop a last batch that would end in a
  // one-sample micro-batch (unless every micro-batch is one sample, as asked).
  const lastSize = split.train.length % config.batchSize;
  const dropLast = lastSize > 0 && (lastSize === 1 || (config.microBatch > 1 && lastSize % config.microBatch === 1));
  const seconds = [...extra.seconds];
  let bestEpoch = extra.bestEpoch;
  let trainedThisRun = 0;
  const callbacks: TrainingCallback[] = [progress(ctx, config.epochs, dropLast ? batches - 1 : batches, !!session.quiet, session)];
  const early = config.patience > 0 ? new EarlyStopping({ monitor: config.monitor, patience: config.patience }) : null;
  if (early) callbacks.push(early);
  callbacks.push(
    new ModelCheckpoint({
      monitor: config.monitor,
      saveBestOnly: true,
      save: async (m, epoch, logs) => {
        m.setCard(cardWithMetrics(card, logs, epoch));
        await m.save(fileSystem(path.join(dir, RUN_FILES.best), { force: true }));
        bestEpoch = epoch + 1;
      },
    }),
  );
  let epochStart = Date.now();
  // Last, so the state it saves includes every other callback's update for this epoch.
  callbacks.push({
    onEpochBegin() {
      epochStart = Date.now();
    },
    async onEpochEnd(epoch, _logs, control) {
      seconds[epoch] = (Date.now() - epochStart) / 1000;
      const trainer = control as Trainer;
      writeFileAtomic(path.join(dir, RUN_FILES.history), historyCsv(trainer.history, seconds));
      await saveCheckpoint(dir, trainer, { seconds, bestEpoch } satisfies CheckpointExtra);
      writeJsonAtomic(path.join(dir, RUN_FILES.status), status('training', epoch + 1, config.epochs, bestEpoch));
      trainedThisRun++;
      if (session.maxEpochsThisRun !== undefined && trainedThisRun >= session.maxEpochsThisRun) control.stop();
    },
  });
  const trainer = new Trainer(model, {
    epochs: config.epochs,
    batchSize: config.batchSize,
    microBatchSize: config.microBatch,
    dropLast,
    seed: config.seed,
    optimizer,
    loss: new MultiTaskLoss({ lambda: config.lambda }),
    validationData: val,
    metrics: [new MultiTaskMetrics({ classNames: [...data.classNames] })],
    callbacks,
    signal: session.signal,
    verbose: 0, // the run folder's status and history files are its progress
  });
  let final: RunStatus;
  try {
    if (state) {
      await trainer.setState(state);
      tf.dispose(state.optimizerWeights.map((w) => w.tensor));
      state = null;
    }
    if (trainer.epoch >= config.epochs) say(`the run has already trained ${trainer.epoch} of ${pluralize(config.epochs, 'epoch')}`);
    try {
      await trainer.fit(train);
    } catch (e) {
      if (e instanceof NonFiniteLossError) {
        const msg = `non-finite loss at epoch ${e.epoch + 1}, batch ${e.batch + 1} (loss ${e.logs.loss}); the run folder keeps the last good checkpoint (epoch ${trainer.epoch})`;
        writeJsonAtomic(path.join(dir, RUN_FILES.status), { ...status('failed', trainer.epoch, config.epochs, bestEpoch), message: msg });
        throw new Error(`${msg}. Lower --lr or check the data.`);
      }
      const text = String((e as Error)?.message ?? e);
      if (session.backend === 'wasm' && /abort|out of memory|memory access out of bounds|Cannot enlarge memory/i.test(text)) {
        throw new Error(
          `the wasm backend ran out of memory (its heap is limited to 4 GiB) training ${config.encoder} + ${config.decoder} at ${config.size}x${config.size} ` +
            `with micro-batches of ${config.microBatch}: use --backend native (tensors in ordinary memory; needs the native addon: busi build-native), ` +
            `--micro-batch 1, a smaller --size (e.g. 224 or 256), or the tensorflow backend ` +
            `(npm install @tensorflow/tfjs-node, then --backend tensorflow). The run stays resumable from its last checkpoint (epoch ${trainer.epoch}). (${text})`,
        );
      }
      throw e;
    }
    if (trainer.batchInEpoch > 0) {
      await saveCheckpoint(dir, trainer, { seconds, bestEpoch } satisfies CheckpointExtra);
      say(`interrupted in epoch ${trainer.epoch + 1} after batch ${trainer.batchInEpoch}; checkpoint saved`);
    }
    const done = trainer.epoch;
    const stoppedEarly = early !== null && early.stoppedEpoch >= 0;
    const complete = done >= config.epochs || stoppedEarly;
    final = status(complete ? 'complete' : 'stopped', done, config.epochs, bestEpoch);
    if (stoppedEarly) final.message = `early stopping at epoch ${early.stoppedEpoch + 1}: ${config.monitor} did not improve for ${pluralize(config.patience, 'epoch')}`;
    else if (!complete) {
      const where = trainer.batchInEpoch > 0 ? `${pluralize(done, 'epoch')} and ${pluralize(trainer.batchInEpoch, 'batch', 'batches')}` : pluralize(done, 'epoch');
      final.message = `stopped after ${where} of ${pluralize(config.epochs, 'epoch')}; continue with busi train --resume --out ${dir}`;
    }
    if (complete) {
      const lastLogs = trainer.history.epoch.length ? trainer.history.logs(trainer.history.epoch.length - 1) : null;
      model.setCard(lastLogs ? cardWithMetrics(card, lastLogs, trainer.history.epoch[trainer.history.epoch.length - 1]) : card);
      await model.save(fileSystem(path.join(dir, RUN_FILES.last), { force: true }));
    }
    const h = trainer.history;
    const bestIndex = bestEpoch === null ? -1 : h.epoch.indexOf(bestEpoch - 1);
    const best = bestIndex >= 0 ? h.logs(bestIndex) : null;
    const last = h.epoch.length ? h.logs(h.epoch.length - 1) : null;
    writeJsonAtomic(path.join(dir, RUN_FILES.metrics), {
      status: final.status,
      monitor: config.monitor,
      bestEpoch,
      best,
      lastEpoch: done,
      last,
      trainSeconds: seconds.reduce((a, b) => a + (b ?? 0), 0),
    });
    writeJsonAtomic(path.join(dir, RUN_FILES.status), final);
    say(
      `${final.message ?? `trained ${pluralize(done, 'epoch')}`}; best ${config.monitor} ${best ? fmt(best[config.monitor]) : 'n/a'} at epoch ${bestEpoch ?? '-'}; ` +
        `session time ${formatDuration((Date.now() - t0) / 1000)}`,
    );
    return { status: final, best, data, split };
  } finally {
    if (state) tf.dispose(state.optimizerWeights.map((w) => w.tensor));
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** Valid `--monitor` values: `val_` and a quantity that validation logs. */
export function monitorNames(classNames: readonly string[]): string[] {
  const logged = ['loss', 'segmentation_loss', 'classification_loss', ...Object.keys(new MultiTaskMetrics({ classNames: [...classNames] }).result())];
  return logged.map((k) => `val_${k}`);
}

function checkMonitor(monitor: string, classNames: readonly string[]): void {
  const names = monitorNames(classNames);
  if (!names.includes(monitor)) throw new Error(`--monitor '${monitor}' is not a validation quantity; expected one of ${names.join(', ')}`);
}

async function checkImages(data: LoadedData): Promise<void> {
  if (!data.busi) return;
  for (let i = 0; i < data.source.size; i++) await data.raw(i);
}

function readStatus(dir: string): RunStatus | null {
  const file = path.join(dir, RUN_FILES.status);
  return fs.existsSync(file) ? readJson<RunStatus>(file, 'run status') : null;
}

function missingCheckpointFiles(dir: string): string {
  const missing = ['model/model.json', 'trainer-state.json', 'trainer-state.bin', 'extra.json'].filter((f) => !fs.existsSync(path.join(dir, f)));
  return missing.length ? `missing ${missing.join(', ')}` : (incompleteReason(dir) ?? 'incomplete');
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? String(v) : v.toFixed(4);
}

function status(s: RunStatus['status'], epochsDone: number, epochs: number, bestEpoch: number | null): RunStatus {
  return { status: s, epochsDone, epochs, bestEpoch, updated: new Date().toISOString() };
}

/** Builds the run's model, its initial weights seeded by the run's seed. */
export function buildModel(config: Pick<RunConfig, 'encoder' | 'decoder' | 'decoderChannels' | 'dropout' | 'classNames' | 'seed'>): MultiTaskModel {
  return createModel({
    encoder: config.encoder,
    decoder: config.decoderChannels ? { name: config.decoder, decoderChannels: config.decoderChannels } : config.decoder,
    classes: config.classNames.length,
    classificationHead: { dropout: config.dropout },
    seed: config.seed,
  });
}

/** The split stored in a run folder, as indices into `data` (see run-split). */
export { readRunSplit } from './run-split';

/** Reads `config.json` of a run folder. */
export function readRunConfig(dir: string): RunConfig {
  const file = path.join(dir, RUN_FILES.config);
  if (!fs.existsSync(file)) throw new Error(`'${dir}' is not a busi run folder (no ${RUN_FILES.config})`);
  const c = readJson<RunConfig>(file, 'run config');
  if (c.format !== 'busi-run') throw new Error(`'${file}' is not a busi run config (format '${String(c.format)}')`);
  return c;
}

/** The default normalisation of runs: ImageNet's, which pretrained encoders expect. */
export const DEFAULT_NORMALIZATION = IMAGENET_NORMALIZATION;

function progress(ctx: CliContext, epochs: number, batches: number, quiet: boolean, hooks: Pick<TrainSessionOptions, 'onBatchEnd' | 'onEpochEnd'>): TrainingCallback {
  let current = 0;
  // Session time per finished epoch, for the run's ETA.
  let started = Date.now();
  let done = 0;
  let bar: ProgressBar | null = null;
  const running = new RunningMean();
  let seen = 0;
  const newBar = (epoch: number) =>
    quiet ? null : new ProgressBar({ total: Math.max(1, batches), label: `epoch ${String(epoch + 1).padStart(String(epochs).length)}/${epochs}`, stream: ctx.stdout });
  return {
    onTrainBegin(control) {
      // A resume in the middle of an epoch gets no onEpochBegin for it.
      const t = control as Trainer;
      current = t.epoch;
      started = Date.now();
      if (t.batchInEpoch > 0) {
        bar = newBar(t.epoch);
        seen = t.batchInEpoch;
      }
    },
    onEpochBegin(epoch) {
      current = epoch;
      running.reset();
      seen = 0;
      bar = newBar(epoch);
    },
    onBatchEnd(_b, logs) {
      running.add({ loss: logs.loss, seg: logs.segmentation_loss, cls: logs.classification_loss }, logs.size ?? 1);
      seen++;
      bar?.update(seen, running.values());
      hooks.onBatchEnd?.(current, _b, logs);
    },
    onEpochEnd(epoch, logs) {
      bar?.finish(running.values());
      const keys = ['loss', 'val_loss', 'val_dice', 'val_iou', 'val_accuracy', 'val_macro_f1'];
      const took = (Date.now() - started) / 1000;
      done++;
      const left = epochs - epoch - 1;
      const eta = left > 0 ? `  (${formatDuration(took)}; run eta ${formatDuration((took / done) * left)})` : `  (${formatDuration(took)})`;
      ctx.stdout.write(`  epoch ${epoch + 1}: ${keys.filter((k) => k in logs).map((k) => `${k} ${fmt(logs[k])}`).join('  ')}${eta}\n`);
      started = Date.now();
      hooks.onEpochEnd?.(epoch, logs);
    },
  };
}
