import type * as tf from '@tensorflow/tfjs-core';
import type { MultiTaskOutput } from '../model/multi-task-model';
import { type ClassificationReport, MetricAccumulator, type MacroAverage } from './classification';
import { type SegmentationReport, SegmentationMetricAccumulator } from './segmentation';

/** Options of {@link MultiTaskMetrics}. */
export interface MultiTaskMetricsOptions {
  /** Number of classes of the classification head. Default 3 (benign, malignant, normal). */
  numClasses?: number;
  /** Class names used for the per-class log entries. Default `class0`, `class1`, ... */
  classNames?: string[];
  /** Classes entering the macro averages. Default 'all'. */
  macroAverage?: MacroAverage;
  /** Mask probability threshold (the model outputs logits; compared as sigmoid(x) ≥ threshold). Default 0.5. */
  threshold?: number;
  /** Leave empty-truth (normal) images out of the segmentation scores. Default false. */
  excludeEmptyTruth?: boolean;
}

/**
 * Both tasks' metrics from a {@link MultiTaskModel}'s outputs, batch by batch: usable as the
 * trainer's validation metric (`metrics: [new MultiTaskMetrics()]`) or in any evaluation loop.
 * {@link MultiTaskMetrics.result} gives flat log entries (`accuracy`, `macro_f1`, `f1_<class>`,
 * `iou`, `dice`, `f1_mask`, `precision_mask`, `recall_mask` per image then mean, and the same with a
 * `_pooled` suffix over all pixels); {@link MultiTaskMetrics.report} gives the full reports.
 */
export class MultiTaskMetrics {
  private readonly classification: MetricAccumulator;
  private readonly segmentation: SegmentationMetricAccumulator;
  private readonly classNames: string[];

  constructor(options: MultiTaskMetricsOptions = {}) {
    const numClasses = options.numClasses ?? options.classNames?.length ?? 3;
    this.classNames = options.classNames ?? Array.from({ length: numClasses }, (_, i) => `class${i}`);
    this.classification = new MetricAccumulator({
      numClasses,
      classNames: this.classNames,
      macroAverage: options.macroAverage,
    });
    this.segmentation = new SegmentationMetricAccumulator({
      threshold: options.threshold,
      fromLogits: true,
      excludeEmptyTruth: options.excludeEmptyTruth,
    });
  }

  /** Forgets every sample. */
  reset(): void {
    this.classification.reset();
    this.segmentation.reset();
  }

  /**
   * Adds one batch: the model's outputs (mask logits with one channel, class logits) and the truth
   * (`masks` `[N, H, W, 1]`, `labels` `[N]` or one-hot); reads only small per-image summaries.
   */
  update(output: MultiTaskOutput, batch: { masks: tf.Tensor; labels: tf.Tensor }): void {
    this.classification.update(batch.labels, output.logits);
    this.segmentation.update(batch.masks, output.mask);
  }

  /**
   * {@link MultiTaskMetrics.update} with asynchronous reads (what the trainer calls): needed on
   * webgpu, which cannot read tensors synchronously in Node, and kinder to any GPU backend.
   */
  async updateAsync(output: MultiTaskOutput, batch: { masks: tf.Tensor; labels: tf.Tensor }): Promise<void> {
    await Promise.all([this.classification.updateAsync(batch.labels, output.logits), this.segmentation.updateAsync(batch.masks, output.mask)]);
  }

  /** Both full reports. */
  report(): {
    /** The classification head's report: accuracy, macro and per-class scores, confusion matrix. */
    classification: ClassificationReport;
    /** The segmentation head's report: per-image and pooled mask scores. */
    segmentation: SegmentationReport;
  } {
    return { classification: this.classification.result(), segmentation: this.segmentation.result() };
  }

  /** Flat numeric log entries. */
  result(): Record<string, number> {
    const { classification: c, segmentation: s } = this.report();
    const logs: Record<string, number> = { accuracy: c.accuracy, macro_f1: c.macroF1 };
    c.perClass.forEach((k, i) => {
      logs[`f1_${this.classNames[i]}`] = k.f1;
    });
    for (const [suffix, scores] of [['', s.perImage], ['_pooled', s.pooled]] as const) {
      logs[`iou${suffix}`] = scores.iou;
      logs[`dice${suffix}`] = scores.dice;
      logs[`f1_mask${suffix}`] = scores.f1;
      logs[`precision_mask${suffix}`] = scores.precision;
      logs[`recall_mask${suffix}`] = scores.recall;
    }
    return logs;
  }
}
