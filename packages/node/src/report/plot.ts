import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

/** One line of a {@link lineChartSvg}. */
export interface PlotSeries {
  /** Legend text. */
  name: string;
  /** x values, one per point. */
  x: readonly number[];
  /** y values, one per x; NaN values leave a gap. */
  y: readonly number[];
  /** CSS colour; default from a fixed palette. */
  color?: string;
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  /** Chart title. */
  title: string;
  /** x-axis label. */
  xLabel?: string;
  /** y-axis label. */
  yLabel?: string;
  /** Width in pixels. */
  width?: number;
  /** Height in pixels. */
  height?: number;
  /** Fixed y range; default the data's range with a margin. */
  yRange?: [number, number];
  /** Draw a dot at every point. Default true. */
  markers?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained SVG line chart (axes, ticks, legend), for HTML reports and PNG rendering. */
export function lineChartSvg(series: readonly PlotSeries[], options: LineChartOptions): string {
  const W = options.width ?? 560;
  const H = options.height ?? 340;
  // The legend sits in its own band under the x axis, so it never hides a line.
  const legendRows = legendLayout(series.map((s) => s.name), W - 2 * 16);
  const m = { l: 58, r: 16, t: 34, b: 46 + legendRows.rows * 16 };
  const pts = series.flatMap((s) => s.x.map((x, i) => [x, s.y[i]] as const)).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  let [y0, y1] = options.yRange ?? (ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1]);
  if (!options.yRange) {
    const pad = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 0.5;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(options.title)}</text>`,
  ];
  for (const t of ticks(y0, y1, 5)) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  for (const t of ticks(x0, x1, 8)) {
    out.push(`<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(t).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  if (options.xLabel) out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - m.b + 32}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  if (options.yLabel) out.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    let d = '';
    let pen = false;
    s.x.forEach((x, i) => {
      const y = s.y[i];
      if (!Number.isFinite(y)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
      pen = true;
    });
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (options.markers ?? true) {
      s.x.forEach((x, i) => {
        if (Number.isFinite(s.y[i])) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(s.y[i]).toFixed(1)}" r="2.5" fill="${color}"/>`);
      });
    }
    const [lx, row] = legendRows.at[k];
    const ly = H - m.b + 46 + row * 16;
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 25}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Legend entries left to right, wrapping at `width` (text width estimated at 6.5 px per character). */
function legendLayout(names: string[], width: number): { rows: number; at: Array<[number, number]> } {
  const at: Array<[number, number]> = [];
  let x = 16;
  let row = 0;
  for (const n of names) {
    const w = 25 + n.length * 6.5 + 18;
    if (x + w > width + 16 && x > 16) {
      row++;
      x = 16;
    }
    at.push([x, row]);
    x += w;
  }
  return { rows: names.length ? row + 1 : 0, at };
}

function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => span / s <= n) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.round(t / step) * step);
  return out;
}

function fmtTick(t: number): string {
  const a = Math.abs(t);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? t.toExponential(1) : String(Number(t.toPrecision(6)));
}

/** Writes `<file>.svg` and `<file>.png` (the SVG rendered by sharp/librsvg); returns both paths. */
export async function writeChart(fileBase: string, svg: string): Promise<{ svg: string; png: string }> {
  fs.mkdirSync(path.dirname(fileBase), { recursive: true });
  const files = { svg: `${fileBase}.svg`, png: `${fileBase}.png` };
  fs.writeFileSync(files.svg, svg);
  await sharp(Buffer.from(svg)).png().toFile(files.png);
  return files;
}
