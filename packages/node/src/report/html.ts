import type { ClassificationReport, ConfidenceInterval, EvaluationMetrics, PixelSpacing, SegmentationReport } from '@busi/core';
import { pluralize } from '@busi/core';

/** One scored image in `metrics.json` (distances null where undefined: exactly one mask empty). */
export interface PerImageRow {
  /** The sample's id, e.g. 'benign (12)'. */
  id: string;
  /** The true class name. */
  truth: string;
  /** The class of highest probability. */
  predicted: string;
  /** Class probabilities in class order. */
  probabilities: number[];
  /** Dice of the thresholded mask (1 when truth and prediction are both empty). */
  dice: number;
  /** IoU of the thresholded mask, same convention. */
  iou: number;
  /** 95th-percentile Hausdorff distance between the mask boundaries, in pixels. */
  hd95: number | null;
  /** Average symmetric surface distance between the mask boundaries, in pixels. */
  asd: number | null;
  /** `hd95` in mm; present only when the evaluation was given a pixel spacing. */
  hd95_mm?: number | null;
  /** `asd` in mm; present only when the evaluation was given a pixel spacing. */
  asd_mm?: number | null;
}

/** What an evaluation found, as written to `metrics.json`. */
export interface EvaluationSummary {
  /** The report's heading, e.g. 'test part of run-3'. */
  title: string;
  /** The model folder that was scored (the first one, for an ensemble). */
  model: string;
  /** The model(s) and test-time augmentation used, e.g. '5 models (mean of probabilities), horizontal-flip TTA'. */
  predictor?: string;
  /** The data set, in words (folder or synthetic set, and images per class). */
  data: string;
  /** Images scored. */
  images: number;
  /** Mean `loss`, `segmentation_loss` and `classification_loss` over the images, at the run's λ. */
  losses: Record<string, number>;
  /** Accuracy, per-class precision/recall/F1 and the confusion matrix. */
  classification: ClassificationReport;
  /** Mask scores (Dice, IoU, precision, recall ...) per image and pooled over all pixels, at the mask threshold. */
  segmentation: SegmentationReport;
  /** Headline numbers with bootstrap intervals, ROC curves, calibration, distance coverage. */
  metrics?: EvaluationMetrics;
  /** mm per pixel used for the distances in mm, or null. */
  spacing?: PixelSpacing | null;
  /** Every scored image. */
  perImage?: PerImageRow[];
}

/** What each headline key means, for the tables. */
const HEADLINE_LABELS: Record<string, string> = {
  dice: 'Dice (per image, mean)',
  iou: 'IoU (per image, mean)',
  hd95: 'HD95, pixels',
  asd: 'ASD, pixels',
  hd95_mm: 'HD95, mm',
  asd_mm: 'ASD, mm',
  accuracy: 'accuracy',
  macro_f1: 'macro F1',
  macro_auc: 'ROC AUC (macro, one-vs-rest)',
  macro_ap: 'average precision (macro)',
  ece: 'expected calibration error (15 bins)',
};

/** Rows (label, value, interval) of the headline numbers. */
function headlineRows(m: EvaluationMetrics): [string, string, string][] {
  const label = (k: string) => HEADLINE_LABELS[k] ?? k.replace(/^auc_(.*)$/, 'ROC AUC, $1 vs rest').replace(/^ap_(.*)$/, 'average precision, $1 vs rest');
  const ci = (c: ConfidenceInterval) => (Number.isFinite(c.low) ? `${f4(c.low)} – ${f4(c.high)}` : 'n/a');
  return Object.entries(m.headline).map(([k, c]) => [label(k), f4(c.value), ci(c)]);
}

/** The sentence stating how the headline numbers and their intervals were computed. */
function headlineNote(m: EvaluationMetrics): string {
  const d = m.distanceCoverage;
  return (
    `${Math.round(m.bootstrap.level * 100)} % percentile-bootstrap intervals over images (${pluralize(m.bootstrap.resamples, 'resample')}, seed ${m.bootstrap.seed}). ` +
    `HD95 and ASD average the ${pluralize(d.measured, 'image')} where truth and prediction both hold a lesion (${pluralize(d.missed, 'lesion')} missed, ${pluralize(d.falseLesion, 'false lesion')} on normal images, ${pluralize(d.bothEmpty, 'correct empty mask')}).`
  );
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The paper's metrics as markdown tables: summary, per class, confusion matrix. */
export function evaluationMarkdown(s: EvaluationSummary): string {
  const c = s.classification;
  const g = s.segmentation;
  const names = c.classNames ?? c.perClass.map((_, i) => `class${i}`);
  return [
    `# ${s.title}`,
    '',
    `Model: \`${s.model}\`  `,
    `Data: ${s.data} (${pluralize(s.images, 'image')})${s.predictor ? `  \nPredictor: ${s.predictor}` : ''}`,
    '',
    ...(s.metrics
      ? ['## Headline', '', '| metric | value | 95 % CI |', '|---|---|---|', ...headlineRows(s.metrics).map((r) => `| ${r.join(' | ')} |`), '', headlineNote(s.metrics), '', '## Details', '']
      : []),
    '| metric | value |',
    '|---|---|',
    `| accuracy | ${f4(c.accuracy)} |`,
    `| macro F1 | ${f4(c.macroF1)} |`,
    `| macro precision | ${f4(c.macroPrecision)} |`,
    `| macro recall | ${f4(c.macroRecall)} |`,
    `| IoU (per image mean) | ${f4(g.perImage.iou)} |`,
    `| Dice (per image mean) | ${f4(g.perImage.dice)} |`,
    `| F1 mask (per image mean) | ${f4(g.perImage.f1)} |`,
    `| IoU (pooled pixels) | ${f4(g.pooled.iou)} |`,
    `| Dice (pooled pixels) | ${f4(g.pooled.dice)} |`,
    `| F1 mask (pooled pixels) | ${f4(g.pooled.f1)} |`,
    ...Object.entries(s.losses).map(([k, v]) => `| ${k.replace(/_/g, ' ')} | ${f4(v)} |`),
    '',
    '| class | precision | recall | F1 | support |',
    '|---|---|---|---|---|',
    ...c.perClass.map((k, i) => `| ${names[i]} | ${f4(k.precision)} | ${f4(k.recall)} | ${f4(k.f1)} | ${k.support} |`),
    '',
    `Confusion matrix (rows: truth, columns: prediction); masks thresholded at ${g.threshold}; ${pluralize(g.emptyTruthImages, 'image')} with an empty truth mask.`,
    '',
    `| truth \\ pred | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    ...c.confusion.map((row, i) => `| ${names[i]} | ${row.join(' | ')} |`),
    '',
  ].join('\n');
}

/** One gallery row of the evaluation report (`evaluationHtml`). */
export interface GalleryItem {
  /** Path of the PNG relative to the report. */
  src: string;
  /** Shown under the picture and as its alt text: id, true and predicted class, confidence. */
  caption: string;
}

/**
 * A self-contained HTML report: the metric tables, charts (inline SVG, e.g. training curves) and a
 * gallery of image | ground truth | prediction pictures (PNG files next to the report).
 */
export function evaluationHtml(
  s: EvaluationSummary,
  charts: { title: string; svg: string }[],
  gallery: GalleryItem[],
  /** Settings of the run that trained the model (shown as a table), if known. */
  details: Record<string, string> = {},
): string {
  const c = s.classification;
  const g = s.segmentation;
  const names = c.classNames ?? c.perClass.map((_, i) => `class${i}`);
  const row = (cells: (string | number)[], th = false) => `<tr>${cells.map((x) => (th ? `<th>${esc(String(x))}</th>` : `<td>${esc(String(x))}</td>`)).join('')}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(s.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 1.5em 1em 0;display:inline-table;vertical-align:top}
td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:0 1em 1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.85em}
.charts svg{margin-right:1em}
</style></head><body>
<h1>${esc(s.title)}</h1>
<p>Model <code>${esc(s.model)}</code><br>Data: ${esc(s.data)} (${pluralize(s.images, 'image')})</p>
${Object.keys(details).length ? `<h2>Run</h2>\n<table id="run">\n${Object.entries(details).map(([k, x]) => row([k, x])).join('\n')}\n</table>` : ''}
${s.metrics ? `<h2>Headline</h2>\n<p>${esc(s.predictor ?? '')}</p>\n<table id="headline">\n${row(['metric', 'value', '95 % CI'], true)}\n${headlineRows(s.metrics).map((r) => row(r)).join('\n')}\n</table>\n<p>${esc(headlineNote(s.metrics))}</p>` : ''}
<h2>Metrics</h2>
<table id="metrics">
${row(['metric', 'per image (mean)', 'pooled pixels'], true)}
${row(['IoU', f4(g.perImage.iou), f4(g.pooled.iou)])}
${row(['Dice', f4(g.perImage.dice), f4(g.pooled.dice)])}
${row(['F1 (mask)', f4(g.perImage.f1), f4(g.pooled.f1)])}
${row(['precision (mask)', f4(g.perImage.precision), f4(g.pooled.precision)])}
${row(['recall (mask)', f4(g.perImage.recall), f4(g.pooled.recall)])}
</table>
<table id="classification">
${row(['classification', 'value'], true)}
${row(['accuracy', f4(c.accuracy)])}
${row(['macro F1', f4(c.macroF1)])}
${row(['macro precision', f4(c.macroPrecision)])}
${row(['macro recall', f4(c.macroRecall)])}
${Object.entries(s.losses).map(([k, v]) => row([k.replace(/_/g, ' '), f4(v)])).join('\n')}
</table>
<table id="per-class">
${row(['class', 'precision', 'recall', 'F1', 'support'], true)}
${c.perClass.map((k, i) => row([names[i], f4(k.precision), f4(k.recall), f4(k.f1), k.support])).join('\n')}
</table>
<table id="confusion">
${row(['truth \\ prediction', ...names], true)}
${c.confusion.map((r, i) => row([names[i], ...r])).join('\n')}
</table>
${charts.length ? `<h2>Charts</h2>\n<div class="charts">\n${charts.map((ch) => ch.svg).join('\n')}\n</div>` : ''}
${gallery.length ? `<h2>Predictions</h2>\n<p>image | ground truth (green) | prediction (red fill; ground truth outlined in green)</p>\n${gallery.map((it) => `<figure><img src="${esc(it.src)}" alt="${esc(it.caption)}"><figcaption>${esc(it.caption)}</figcaption></figure>`).join('\n')}` : ''}
</body></html>
`;
}
