import * as fs from 'node:fs';
import * as path from 'node:path';
import { meanDefined, sampleStd, type ConfidenceInterval, pluralize } from '@busi/core';
import { crossValidationSplit, writeSplitFile, type CrossValidationSplit } from '@busi/data';
import type { CliContext } from '../cli/args';
import type { EvaluationSummary } from '../report/html';
import { loadData } from './data';
import { evaluateRun } from './evaluate-run';
import type { TtaMode } from './predictor';
import { RUN_FILES, isNonEmptyDir, readJson, writeFileAtomic, writeJsonAtomic, type RunStatus } from './run-folder';
import { runSampleGroups } from './run-split';
import { trainRun, type RunConfig } from './train-run';

/** Files of a cross-validation folder. */
export const CV_FILES = {
  /** The {@link CvConfig}. */
  config: 'cv.json',
  /** The {@link CvSplitRecord}: held-out test ids and the fold of every other image. */
  split: 'cv-split.json',
  /** The {@link CvSummary}, written when every fold is done. */
  summary: 'summary.json',
  /** The summary as markdown tables: per fold, mean ± sd, the ensemble with its intervals. */
  summaryMd: 'summary.md',
  /** Evaluation folder of the fold ensemble on the held-out test part. */
  ensemble: 'ensemble',
} as const;

/** Everything that defines a cross-validation; `cv.json`. */
export interface CvConfig {
  /** Marks the file as a busi cross-validation config. */
  format: 'busi-cv';
  /** Version of the file's layout (1 so far). */
  version: 1;
  /** The run settings every fold trains with (its split comes from the cross-validation). */
  run: RunConfig;
  /** Number of folds. */
  folds: number;
  /** Share of all images held out for the ensemble's test (0: no ensemble test). */
  testFraction: number;
  /** Test-time augmentation of the ensemble evaluation. */
  tta: TtaMode;
}

/** The cross-validation split as stored in `cv-split.json`: test ids and the fold of every other image. */
export interface CvSplitRecord {
  /** Marks the file as a busi cross-validation split. */
  format: 'busi-cv-split';
  /** Seed the split was drawn with (the run's seed). */
  seed: number;
  /** Number of folds. */
  folds: number;
  /** Ids of the held-out test images (empty with test fraction 0). */
  test: string[];
  /** id → fold (0-based) for every training image. */
  foldOf: Record<string, number>;
  /** id → group key for images in duplicate groups. */
  groups?: Record<string, string>;
  /** Ids left out of every part (images of cross-class duplicate groups, with `excludeCrossClass`). */
  excluded?: string[];
}

/** Headline numbers compared across folds. */
export const CV_KEYS = ['dice', 'iou', 'hd95', 'asd', 'accuracy', 'macro_f1', 'macro_auc', 'macro_ap', 'ece'] as const;

/** `summary.json` of a cross-validation. */
export interface CvSummary {
  /** One row per fold, in fold order. */
  folds: {
    /** Fold index (0-based). */
    fold: number;
    /** The fold's run folder, relative to the cross-validation folder (`fold-<j>`). */
    run: string;
    /** Images of the validation fold it was scored on. */
    images: number;
    /** Epoch (1-based) of the fold's best model, or null. */
    bestEpoch: number | null;
    /** Each headline number of {@link CV_KEYS} on the validation fold; null where undefined. */
    scores: Record<string, number | null>;
  }[];
  /** Mean and sample standard deviation over folds of each headline number (validation folds). */
  meanSd: Record<
    string,
    {
      /** Mean over the folds where the number is defined, or null. */
      mean: number | null;
      /** Sample standard deviation (n - 1) over those folds; null with fewer than two. */
      sd: number | null;
    }
  >;
  /** The fold ensemble on the held-out test part, with 95 % bootstrap intervals; null without a test part. */
  ensemble: {
    /** Test images scored. */
    images: number;
    /** The ensemble in words (models, how combined, TTA). */
    predictor: string;
    /** Each headline number with its bootstrap interval. */
    headline: Record<string, ConfidenceInterval>;
  } | null;
}

/** Options of {@link cvRun} that are not part of the configuration. */
export interface CvSessionOptions {
  /** Continue `dir`: finished folds are kept, unfinished ones resume from their checkpoints. */
  resume?: boolean;
  /** Replace a non-empty `dir`. */
  force?: boolean;
  /** No progress bars. */
  quiet?: boolean;
  /** Backend name for the record. */
  backend: string;
}

const num = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * `busi cv`'s work: stratified, grouped k-fold cross-validation with a held-out test part. Each
 * fold is a complete, resumable run folder `fold-<j>/` (train on the other folds, select on fold j,
 * its evaluation/ on fold j); the ensemble of the fold models (mean of probabilities, optional flip
 * TTA) is evaluated on the test part in `ensemble/`; `summary.json` / `summary.md` hold the per-fold
 * numbers, their mean ± sd and the ensemble's numbers with confidence intervals.
 */
export async function cvRun(config: CvConfig, dir: string, session: CvSessionOptions, ctx: CliContext): Promise<CvSummary> {
  const say = (s: string) => ctx.stdout.write(`${s}\n`);
  const run = config.run;
  if (!session.resume && isNonEmptyDir(dir) && !session.force) {
    throw new Error(`cross-validation folder '${dir}' exists and is not empty; pass --force to replace it or --resume to continue it`);
  }
  const data = loadData(run.data, run.size, run.cache === 'disk' ? { dir: path.join(dir, '..', '.busi-cache') } : run.cache === 'none' ? 'none' : 'memory');
  say(`data: ${data.describe}`);
  const splitsDir = path.join(dir, 'splits');
  let cv: CrossValidationSplit | null = null;
  if (!session.resume || !fs.existsSync(path.join(dir, CV_FILES.split))) {
    if (session.force) fs.rmSync(dir, { recursive: true, force: true });
    const groups = await runSampleGroups(run, data, ctx);
    cv = crossValidationSplit(data.labels, data.ids, { ...(groups ?? {}), k: config.folds, testFraction: config.testFraction, seed: run.seed });
    fs.mkdirSync(splitsDir, { recursive: true });
    writeJsonAtomic(path.join(dir, CV_FILES.config), config);
    cv.folds.forEach((f, j) => writeSplitFile(path.join(splitsDir, `fold-${j}.json`), f.file));
    const first = cv.folds[0].file;
    const record: CvSplitRecord = {
      format: 'busi-cv-split',
      seed: run.seed,
      folds: config.folds,
      test: cv.test.map((i) => data.ids[i]),
      foldOf: Object.fromEntries(cv.foldOf.flatMap((f, i) => (f >= 0 ? [[data.ids[i], f]] : []))),
      ...(first.groups ? { groups: first.groups } : {}),
      ...(first.excluded ? { excluded: first.excluded } : {}),
    };
    writeJsonAtomic(path.join(dir, CV_FILES.split), record);
  }
  const record = readJson<CvSplitRecord>(path.join(dir, CV_FILES.split), 'cross-validation split');
  const counts = (ids: string[]) => data.classNames.map((c, k) => `${ids.filter((id) => data.labels[data.ids.indexOf(id)] === k).length} ${c}`).join(', ');
  say(`cross-validation: ${pluralize(config.folds, 'fold')} over ${pluralize(Object.keys(record.foldOf).length, 'image')}; held-out test ${record.test.length} (${counts(record.test)})`);

  const rows: CvSummary['folds'] = [];
  const bestModels: string[] = [];
  for (let j = 0; j < config.folds; j++) {
    const foldDir = path.join(dir, `fold-${j}`);
    const foldConfig: RunConfig = { ...run, splitFile: path.join(splitsDir, `fold-${j}.json`), fold: 0 };
    const statusFile = path.join(foldDir, RUN_FILES.status);
    const status = fs.existsSync(statusFile) ? readJson<RunStatus>(statusFile, 'run status') : null;
    say(`\nfold ${j + 1} of ${config.folds} (${foldDir})`);
    let result: Awaited<ReturnType<typeof trainRun>> | null = null;
    if (status?.status === 'complete') say(`fold ${j}: complete, kept`);
    else {
      const resume = fs.existsSync(path.join(foldDir, RUN_FILES.config));
      result = await trainRun(foldConfig, foldDir, { resume, force: !resume, quiet: session.quiet, backend: session.backend }, ctx);
      if (result.status.status !== 'complete') throw new Error(`fold ${j} stopped (${result.status.message ?? result.status.status}); continue with busi cv --resume --out ${dir}`);
    }
    const best = path.join(foldDir, RUN_FILES.best);
    bestModels.push(best);
    const evalFile = path.join(foldDir, 'evaluation', 'metrics.json');
    if (!fs.existsSync(evalFile) || result) {
      const validation = Object.entries(record.foldOf).filter(([, f]) => f === j).map(([id]) => data.ids.indexOf(id));
      await evaluateRun({ modelDir: best, runDir: foldDir, config: run, data, indices: validation, outDir: path.join(foldDir, 'evaluation'), ctx, gallery: 4, title: `fold ${j}: validation fold`, bootstrap: { seed: run.seed } });
    }
    const ev = readJson<EvaluationSummary>(evalFile, 'fold evaluation');
    const st = readJson<RunStatus>(statusFile, 'run status');
    rows.push({
      fold: j,
      run: path.basename(foldDir),
      images: ev.images,
      bestEpoch: st.bestEpoch,
      scores: Object.fromEntries(CV_KEYS.map((k) => [k, ev.metrics ? num(ev.metrics.headline[k]?.value ?? NaN) : null])),
    });
  }
  const meanSd: CvSummary['meanSd'] = {};
  for (const k of CV_KEYS) {
    const v = rows.map((r) => r.scores[k] ?? NaN);
    meanSd[k] = { mean: num(meanDefined(v)), sd: num(sampleStd(v)) };
  }
  let ensemble: CvSummary['ensemble'] = null;
  if (record.test.length > 0) {
    say(`\nensemble of the ${pluralize(config.folds, 'fold model')} on the held-out test part`);
    const s = await evaluateRun({
      modelDir: bestModels[0],
      ensemble: bestModels.slice(1),
      tta: config.tta,
      runDir: null,
      config: run,
      data,
      indices: record.test.map((id) => data.ids.indexOf(id)),
      outDir: path.join(dir, CV_FILES.ensemble),
      ctx,
      gallery: 8,
      title: `Ensemble of ${pluralize(config.folds, 'fold')} on the held-out test part`,
      bootstrap: { seed: run.seed },
    });
    ensemble = { images: s.images, predictor: s.predictor ?? '', headline: s.metrics!.headline };
  } else say('no held-out test part (--test-fraction 0): no ensemble evaluation');
  const summary: CvSummary = { folds: rows, meanSd, ensemble };
  writeJsonAtomic(path.join(dir, CV_FILES.summary), summary);
  writeFileAtomic(path.join(dir, CV_FILES.summaryMd), cvMarkdown(summary, config));
  say(`\n${cvMarkdown(summary, config)}`);
  return summary;
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));

/** The summary as markdown: per-fold table, mean ± sd, and the ensemble's numbers with intervals. */
export function cvMarkdown(s: CvSummary, config: Pick<CvConfig, 'folds' | 'testFraction' | 'tta'>): string {
  const lines = [
    `# Cross-validation: ${pluralize(config.folds, 'fold')}`,
    '',
    'Per fold: the fold model (best epoch on its validation fold) scored on that validation fold.',
    '',
    `| fold | images | best epoch | ${CV_KEYS.join(' | ')} |`,
    `|---|---|---|${CV_KEYS.map(() => '---').join('|')}|`,
    ...s.folds.map((r) => `| ${r.fold} | ${r.images} | ${r.bestEpoch ?? '-'} | ${CV_KEYS.map((k) => f3(r.scores[k])).join(' | ')} |`),
    `| mean ± sd | | | ${CV_KEYS.map((k) => `${f3(s.meanSd[k].mean)} ± ${f3(s.meanSd[k].sd)}`).join(' | ')} |`,
    '',
  ];
  if (s.ensemble) {
    lines.push(
      `## Ensemble on the held-out test part (${pluralize(s.ensemble.images, 'image')}; ${s.ensemble.predictor})`,
      '',
      '| metric | value | 95 % CI |',
      '|---|---|---|',
      ...Object.entries(s.ensemble.headline).map(([k, c]) => `| ${k} | ${f3(c.value)} | ${f3(c.low)} – ${f3(c.high)} |`),
      '',
    );
  }
  return lines.join('\n');
}
