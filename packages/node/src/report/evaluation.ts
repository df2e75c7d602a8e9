import type { ClassificationReport, SegmentationReport } from '@busi/core';
import { pluralize } from '@busi/core';

/**
 * A plain-text evaluation summary: segmentation scores (per-image mean and pooled), classification
 * accuracy and macro F1, per-class precision/recall/F1 and the confusion matrix.
 */
export function formatEvaluation(
  report: { classification: ClassificationReport; segmentation: SegmentationReport },
  losses: Record<string, number> = {},
): string {
  const { classification: c, segmentation: s } = report;
  const f = (x: number) => x.toFixed(4);
  const lines: string[] = [];
  if (losses.loss !== undefined) {
    lines.push(`  loss ${f(losses.loss)} (segmentation ${f(losses.segmentation_loss)}, classification ${f(losses.classification_loss)})`);
  }
  lines.push(
    `  segmentation  dice ${f(s.perImage.dice)}  iou ${f(s.perImage.iou)}  (per image; pooled dice ${f(s.pooled.dice)}, iou ${f(s.pooled.iou)}; ` +
      `${pluralize(s.images, 'image')}, ${s.emptyTruthImages} with empty truth)`,
    `  classification  accuracy ${f(c.accuracy)}  macro F1 ${f(c.macroF1)}  macro recall ${f(c.macroRecall)}`,
  );
  const names = c.classNames ?? c.perClass.map((_, i) => `class${i}`);
  const w = Math.max(9, ...names.map((n) => n.length)) + 2;
  lines.push(`  ${'class'.padEnd(w)}${['precision', 'recall', 'f1', 'support'].map((h) => h.padStart(10)).join('')}`);
  c.perClass.forEach((k, i) => {
    lines.push(`  ${names[i].padEnd(w)}${[f(k.precision), f(k.recall), f(k.f1), String(k.support)].map((x) => x.padStart(10)).join('')}`);
  });
  lines.push(`  confusion (rows: truth, columns: prediction)`);
  lines.push(`  ${''.padEnd(w)}${names.map((n) => n.slice(0, 9).padStart(10)).join('')}`);
  c.confusion.forEach((row, i) => lines.push(`  ${names[i].padEnd(w)}${row.map((x) => String(x).padStart(10)).join('')}`));
  return lines.join('\n');
}
