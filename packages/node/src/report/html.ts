import type { ClassificationReport, SegmentationReport } from '@busi/core';

/** What an evaluation found, as written to `metrics.json`. */
export interface EvaluationSummary {
  title: string;
  model: string;
  data: string;
  images: number;
  losses: Record<string, number>;
  classification: ClassificationReport;
  segmentation: SegmentationReport;
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
    `Data: ${s.data} (${s.images} images)`,
    '',
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
    `Confusion matrix (rows: truth, columns: prediction); masks thresholded at ${g.threshold}; ${g.emptyTruthImages} images with an empty truth mask.`,
    '',
    `| truth \\ pred | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    ...c.confusion.map((row, i) => `| ${names[i]} | ${row.join(' | ')} |`),
    '',
  ].join('\n');
}

/** One gallery row of {@link evaluationHtml}. */
export interface GalleryItem {
  /** Path of the PNG relative to the report. */
  src: string;
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
<p>Model <code>${esc(s.model)}</code><br>Data: ${esc(s.data)} (${s.images} images)</p>
${Object.keys(details).length ? `<h2>Run</h2>\n<table id="run">\n${Object.entries(details).map(([k, x]) => row([k, x])).join('\n')}\n</table>` : ''}
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
${charts.length ? `<h2>Training curves</h2>\n<div class="charts">\n${charts.map((ch) => ch.svg).join('\n')}\n</div>` : ''}
${gallery.length ? `<h2>Predictions</h2>\n<p>image | ground truth (green) | prediction (red fill; ground truth outlined in green)</p>\n${gallery.map((it) => `<figure><img src="${esc(it.src)}" alt="${esc(it.caption)}"><figcaption>${esc(it.caption)}</figcaption></figure>`).join('\n')}` : ''}
</body></html>
`;
}
