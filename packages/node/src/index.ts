// @busi/node: busi in Node in one import. It re-exports @busi/kernels (backend choice) and
// @busi/data (files, images, BUSI) and adds models by name, training and evaluation runs, data
// parallelism, parity checks against smp and the `busi` command line. Only the entries below are
// public; the command implementations, run-folder helpers and report renderers are internal.
export * from '@busi/kernels';
export * from '@busi/data';
export * from './models/factory';
export * from './models/table';
export { trainRun, buildModel, readRunConfig, readRunSplit, DEFAULT_NORMALIZATION, type RunConfig, type TrainSessionOptions, type TrainResult } from './runs/train-run';
export { estimateTrainingMemory, initTrainingBackend, PROBE_SIZE, UNPROBED_PIXELS, type TrainingBackendDescription, type TrainingMemoryConfig, type TrainingMemoryEstimate } from './runs/training-memory';
export { evaluateRun, type EvaluateRunArgs } from './runs/evaluate-run';
export { makeRunSplit, runSampleGroups, selectionPart, reportPart, type RunSplitSettings } from './runs/run-split';
export { loadData, type DataSpec, type LoadedData } from './runs/data';
export type { DecoderChannels } from './runs/decoder-channels';
export { RUN_DEFAULTS } from './runs/run-options';
export { RUN_FILES, parseHistoryCsv, findCheckpoint, loadCheckpoint, type RunStatus, type CheckpointSearch } from './runs/run-folder';
export { acquireRunLock, lockHolder, RunLockedError, LOCK_FILE, type RunLock, type LockHolder } from './runs/run-lock';
export type { EvaluationSummary, GalleryItem, PerImageRow } from './report/html';
// The line chart of the reports, public so a notebook or script can plot a training history.
export { lineChartSvg, type PlotSeries, type LineChartOptions } from './report/plot';
export { ensemblePredictor, loadPredictor, type Predictor, type TtaMode } from './runs/predictor';
export { scorePredictor, type ScoreOptions, type Scores } from './runs/image-scores';
export { cvRun, CV_FILES, CV_KEYS, type CvConfig, type CvSummary, type CvSplitRecord, type CvSessionOptions } from './runs/cv-run';
export { createDataParallel, type DataParallel, type DataParallelLogs, type DataParallelOptions } from './parallel/data-parallel';
export {
  runParityDir,
  runParityFixture,
  buildParityModel,
  listParityFixtures,
  registryNames,
  type RunParityOptions,
  type ParityRunResult,
} from './parity/run-parity';
export { SlimResNetEncoder, registerSlimResNet, type SlimResNetArgs } from './demo/slim-resnet';
export { runCli } from './cli/main';
export { commands } from './commands/index';
export { UsageError, type Command, type CliContext, type OptionSpec, type OptionValues } from './cli/args';
export { BUSI_VERSION } from './version';
export { readSweepFile, parseSweepSpec, PAPER_SWEEP_DEFAULTS, type SweepSpec, type SweepModel, type SweepDefaults } from './sweep/spec';
export { expandSweep, taskSlice, arraySlot, sweepId, type SweepTask, type ArraySlot } from './sweep/plan';
export { openSweep, prepareSweep, taskDir, SWEEP_FILES, SWEEP_LAYOUT, type Sweep, type SweepLayout, type SweepPlanFile } from './sweep/folder';
export type { TaskFinish, ResumePoint } from './sweep/task-state';
export { runTasks, type RunTasksOptions } from './sweep/local-runner';
export { runTask, type TaskOutcome, type RunTaskOptions } from './sweep/run-task';
export { readAttempts, type TaskAttempt, type TaskAttempts } from './sweep/attempts';
export { enqueueSweep, runWorker, type EnqueueSummary, type WorkerOptions, type WorkerSummary, type SweepJobData } from './sweep/queue';
export { collectSweep, writeResults, RESULT_COLUMNS, type SweepResults, type ResultRow, type ResultColumn, type MeanSd } from './sweep/collect';
