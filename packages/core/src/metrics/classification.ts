import * as tf from '@tensorflow/tfjs-core';

/**
 * Class labels or class scores, in any of these forms:
 * - integer labels `[N]`: a rank-1 tensor, a plain array or a typed array;
 * - scores `[N, C]` (logits, probabilities or one-hot): a rank-2 tensor or an array of rows; each row
 *   becomes its argmax (the first maximum on ties), so logits and probabilities give the same labels.
 */
export type ClassInput = tf.Tensor | ArrayLike<number> | ArrayLike<ArrayLike<number>>;

/** Precision, recall and F1 of one class, one-vs-rest. */
export interface ClassMetrics {
  /** TP / (TP + FP); 0 when the class is never predicted. */
  precision: number;
  /** TP / (TP + FN); 0 when the class is absent from the truth. */
  recall: number;
  /** 2·P·R / (P + R); 0 when P + R = 0. */
  f1: number;
  /** Number of samples whose true class is this one (TP + FN). */
  support: number;
  /** Number of samples predicted as this class (TP + FP). */
  predicted: number;
}

/** A classification report of plain numbers (JSON-serialisable). */
export interface ClassificationReport {
  /** Number of samples. */
  count: number;
  /** Fraction of samples whose prediction equals the truth; 0 when there are no samples. */
  accuracy: number;
  /** Unweighted mean of the per-class F1 over the averaged classes (see {@link MacroAverage}). */
  macroF1: number;
  /** Unweighted mean of the per-class precision over the averaged classes. */
  macroPrecision: number;
  /** Unweighted mean of the per-class recall over the averaged classes (balanced accuracy when all classes occur). */
  macroRecall: number;
  /** Support-weighted mean of the per-class F1. */
  weightedF1: number;
  /** One entry per class index 0..C-1. */
  perClass: ClassMetrics[];
  /** `confusion[truth][prediction]`: rows are true classes, columns predicted classes. */
  confusion: number[][];
  /** Class names, when given. */
  classNames?: string[];
}

/**
 * Which classes the macro averages run over:
 * - `'all'` (default): every class 0..C-1, so a class absent from both truth and predictions counts
 *   with F1 = 0 (C is `numClasses`, the score width, or the largest label seen + 1);
 * - `'present'`: only classes occurring in the truth or in the predictions, which is scikit-learn's
 *   default (its `labels` is the union of `y_true` and `y_pred`).
 * A class in the truth but never predicted (or predicted but absent from the truth) has F1 = 0 and is
 * averaged under both modes, as scikit-learn does with `zero_division=0`.
 */
export type MacroAverage = 'all' | 'present';

/** Options of {@link MetricAccumulator} and {@link classificationMetrics}. */
export interface ClassificationMetricsOptions {
  /** Number of classes C; labels must lie in [0, C). Default: inferred (score width or largest label + 1). */
  numClasses?: number;
  /** Class names, copied into the report; their count fixes `numClasses` when that is not given. */
  classNames?: string[];
  /** Classes entering the macro averages. Default 'all'. */
  macroAverage?: MacroAverage;
}

function isArrayLikeRow(x: unknown): x is ArrayLike<number> {
  return x != null && typeof x === 'object' && typeof (x as ArrayLike<number>).length === 'number';
}

function argmaxRows(values: ArrayLike<number>, n: number, c: number): { labels: number[]; width: number } {
  const labels = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (values[i * c + j] > values[i * c + best]) best = j;
    labels[i] = best;
  }
  return { labels, width: c };
}

/** Labels (and score width) of a tensor whose values have been read (`values`). */
function decodeTensorLabels(x: tf.Tensor, values: ArrayLike<number>): { labels: number[]; width?: number } {
  if (x.rank === 1) return { labels: Array.from(values) };
  return argmaxRows(values, x.shape[0], x.shape[1] as number);
}

function checkTensorRank(x: tf.Tensor, what: string): void {
  if (x.rank !== 1 && x.rank !== 2) throw new Error(`${what}: expected labels [N] or scores [N, C], got a tensor of shape [${x.shape}]`);
}

/** Labels (and the score width, for score input) of a {@link ClassInput}; tensors are read synchronously. */
function decodeLabels(x: ClassInput, what: string): { labels: number[]; width?: number } {
  if (x instanceof tf.Tensor) {
    checkTensorRank(x, what);
    return decodeTensorLabels(x, x.dataSync() as ArrayLike<number>);
  }
  const n = x.length;
  if (n > 0 && isArrayLikeRow(x[0])) {
    const rows = x as ArrayLike<ArrayLike<number>>;
    const c = rows[0].length;
    const flat = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      if (rows[i].length !== c) throw new Error(`${what}: score rows have different lengths`);
      for (let j = 0; j < c; j++) flat[i * c + j] = rows[i][j];
    }
    return argmaxRows(flat, n, c);
  }
  return { labels: Array.from(x as ArrayLike<number>) };
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

/**
 * Streaming classification metrics: feed batches with {@link MetricAccumulator.update} and read
 * {@link MetricAccumulator.result} at any time. Only the C×C confusion matrix is kept. Without a
 * fixed `numClasses` the matrix grows to the largest label or score width seen.
 */
export class MetricAccumulator {
  private numClasses: number;
  private readonly fixed: boolean;
  private readonly classNames?: string[];
  private readonly macroAverage: MacroAverage;
  private confusion: number[][];

  constructor(options: ClassificationMetricsOptions = {}) {
    const n = options.numClasses ?? options.classNames?.length;
    if (n != null && (!Number.isInteger(n) || n <= 0)) {
      throw new Error(`MetricAccumulator: numClasses must be a positive integer, got ${n}`);
    }
    if (options.classNames != null && n !== options.classNames.length) {
      throw new Error(`MetricAccumulator: ${options.classNames.length} class names for ${n} classes`);
    }
    this.fixed = n != null;
    this.numClasses = n ?? 0;
    this.classNames = options.classNames ? [...options.classNames] : undefined;
    this.macroAverage = options.macroAverage ?? 'all';
    if (this.macroAverage !== 'all' && this.macroAverage !== 'present') {
      throw new Error(`MetricAccumulator: unknown macroAverage '${this.macroAverage as string}'`);
    }
    this.confusion = this.emptyMatrix(this.numClasses);
  }

  /**
   * Adds a batch: `truth` and `prediction` are labels `[N]` or scores `[N, C]` (logits, probabilities,
   * one-hot), read synchronously from tensors (which the caller still owns).
   */
  update(truth: ClassInput, prediction: ClassInput): void {
    this.add(decodeLabels(truth, 'truth'), decodeLabels(prediction, 'prediction'));
  }

  /**
   * {@link MetricAccumulator.update} reading tensors asynchronously: the form for GPU backends
   * (webgpu cannot read synchronously in Node). Same counts as `update`.
   */
  async updateAsync(truth: ClassInput, prediction: ClassInput): Promise<void> {
    const decode = async (x: ClassInput, what: string) => {
      if (!(x instanceof tf.Tensor)) return decodeLabels(x, what);
      checkTensorRank(x, what);
      return decodeTensorLabels(x, (await x.data()) as ArrayLike<number>);
    };
    const [t, p] = await Promise.all([decode(truth, 'truth'), decode(prediction, 'prediction')]);
    this.add(t, p);
  }

  private add(t: { labels: number[]; width?: number }, p: { labels: number[]; width?: number }): void {
    if (t.labels.length !== p.labels.length) {
      throw new Error(`MetricAccumulator: ${t.labels.length} true labels for ${p.labels.length} predictions`);
    }
    // validate everything before touching the state, so that a rejected batch changes nothing
    let needed = 0;
    for (const w of [t.width, p.width]) {
      if (w == null) continue;
      if (this.fixed && w !== this.numClasses) {
        throw new Error(`MetricAccumulator: scores have ${w} classes, expected ${this.numClasses}`);
      }
      needed = Math.max(needed, w);
    }
    for (const labels of [t.labels, p.labels]) {
      for (const y of labels) {
        if (!Number.isInteger(y) || y < 0 || (this.fixed && y >= this.numClasses)) {
          throw new Error(`MetricAccumulator: label ${y} outside [0, ${this.fixed ? this.numClasses : '∞'})`);
        }
        needed = Math.max(needed, y + 1);
      }
    }
    this.grow(needed);
    for (let i = 0; i < t.labels.length; i++) this.confusion[t.labels[i]][p.labels[i]] += 1;
  }

  /** Forgets every sample. */
  reset(): void {
    this.confusion = this.emptyMatrix(this.numClasses);
  }

  /** The report over every sample added so far. */
  result(): ClassificationReport {
    const c = this.numClasses;
    const m = this.confusion;
    let count = 0;
    let correct = 0;
    const perClass: ClassMetrics[] = [];
    for (let k = 0; k < c; k++) {
      let support = 0;
      let predicted = 0;
      for (let j = 0; j < c; j++) {
        support += m[k][j];
        predicted += m[j][k];
      }
      count += support;
      correct += m[k][k];
      const precision = ratio(m[k][k], predicted);
      const recall = ratio(m[k][k], support);
      perClass.push({ precision, recall, f1: ratio(2 * precision * recall, precision + recall), support, predicted });
    }
    const averaged = this.macroAverage === 'all' ? perClass : perClass.filter((k) => k.support + k.predicted > 0);
    const mean = (f: (k: ClassMetrics) => number): number => ratio(averaged.reduce((s, k) => s + f(k), 0), averaged.length);
    const report: ClassificationReport = {
      count,
      accuracy: ratio(correct, count),
      macroF1: mean((k) => k.f1),
      macroPrecision: mean((k) => k.precision),
      macroRecall: mean((k) => k.recall),
      weightedF1: ratio(perClass.reduce((s, k) => s + k.f1 * k.support, 0), count),
      perClass,
      confusion: m.map((row) => [...row]),
    };
    if (this.classNames) report.classNames = [...this.classNames];
    return report;
  }

  private emptyMatrix(c: number): number[][] {
    return Array.from({ length: c }, () => new Array<number>(c).fill(0));
  }

  private grow(c: number): void {
    if (c <= this.numClasses) return;
    for (const row of this.confusion) while (row.length < c) row.push(0);
    while (this.confusion.length < c) this.confusion.push(new Array<number>(c).fill(0));
    this.numClasses = c;
  }
}

/**
 * Accuracy, macro/weighted F1, per-class precision/recall/F1 and the confusion matrix (rows = truth,
 * columns = prediction) of one set of predictions. `truth` and `prediction` are labels `[N]` or
 * scores `[N, C]` (see {@link ClassInput}); conventions as in {@link MacroAverage} and
 * {@link ClassMetrics}.
 * @example
 * ```ts
 * import { classificationMetrics } from '@busi/core';
 * const m = classificationMetrics([0, 1, 2, 1], [0, 1, 1, 1]); // truth, prediction (labels, logits or probabilities)
 * m.accuracy; m.macroF1; m.confusion;
 * ```
 */
export function classificationMetrics(
  truth: ClassInput,
  prediction: ClassInput,
  options: ClassificationMetricsOptions = {},
): ClassificationReport {
  const acc = new MetricAccumulator(options);
  acc.update(truth, prediction);
  return acc.result();
}
