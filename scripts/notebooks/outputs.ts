// Compares a notebook's committed outputs with a fresh execution in their stable parts: the
// sequence of outputs of every code cell, their kinds and MIME types, their text, the integers in
// it (shapes, counts, parameter totals) exactly, PNG sizes, and the SVG charts' words and marks.
// Floats depend on the build that computed them: with the same backend line (same kernels, same
// thread count) a fresh run repeats them, so they are compared to a tolerance that only absorbs
// rounding; from another build (say without the native BLAS kernels) training takes a slightly
// different path, and only their places in the text are compared.

/** One output of a code cell, as nbformat stores it. */
export interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
}

/** The parts of an nbformat 4 notebook read here. */
export interface Notebook {
  cells: { cell_type: string; source: string | string[]; outputs?: NotebookOutput[] }[];
  metadata: { kernelspec?: { name?: string } };
}

const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : (t ?? ''));

/** The source and outputs of every code cell, in order. */
export function codeCells(nb: Notebook): { source: string; outputs: NotebookOutput[] }[] {
  return nb.cells.filter((c) => c.cell_type === 'code').map((c) => ({ source: joined(c.source), outputs: c.outputs ?? [] }));
}

/** The text of an output: a stream's text, or a display's text/plain. */
export function outputText(o: NotebookOutput): string {
  return o.output_type === 'stream' ? joined(o.text) : joined(o.data?.['text/plain']);
}

const NUMBER = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi;
const isFloat = (token: string) => /[.e]/i.test(token);
// The backend line names this machine's build (native kernels, thread count).
const BACKEND_LINE = /^busi backend: .*$/m;
const MACHINE_PART = /^(busi backend: \w+).*$/gm;

/** The backend line a notebook printed, or null. */
export function backendLine(nb: Notebook): string | null {
  for (const c of codeCells(nb)) for (const o of c.outputs) {
    const m = BACKEND_LINE.exec(outputText(o));
    if (m) return m[0];
  }
  return null;
}

/** How closely floats must agree: within `rel` of the larger plus `abs`; null: not compared. */
type Tolerance = { rel: number; abs: number } | null;

/** Text with the machine part of the backend line cut, its numbers, and the rest with each number as '#'. */
function textShape(text: string): { shape: string; numbers: string[] } {
  const t = text.replace(MACHINE_PART, '$1');
  return { shape: t.replace(NUMBER, '#').replace(/[ \t]+/g, ' '), numbers: t.match(NUMBER) ?? [] };
}

function compareText(where: string, want: string, got: string, tol: Tolerance): string[] {
  const w = textShape(want);
  const g = textShape(got);
  if (w.shape !== g.shape) {
    // Quote the first line that differs, not the whole output.
    const [wl, gl] = [w.shape.split('\n'), g.shape.split('\n')];
    const line = wl.findIndex((l, i) => l !== gl[i]);
    const k = line < 0 ? wl.length : line;
    const quote = (text: string) => JSON.stringify((text.split('\n')[k] ?? '(no such line)').slice(0, 300));
    return [`${where}: line ${k + 1} differs\n  committed: ${quote(want)}\n  now:       ${quote(got)}`];
  }
  const diffs: string[] = [];
  w.numbers.forEach((token, i) => {
    const [a, b] = [Number(token), Number(g.numbers[i])];
    const float = isFloat(token) || isFloat(g.numbers[i]);
    const ok = !float ? a === b : !tol || Math.abs(a - b) <= tol.rel * Math.max(Math.abs(a), Math.abs(b)) + tol.abs;
    if (!ok) diffs.push(`${where}: number ${i + 1} is ${g.numbers[i]}, committed ${token}${float ? ` (tolerance ${tol!.rel} relative + ${tol!.abs})` : ''}`);
  });
  return diffs.slice(0, 3);
}

/** Width and height of a base64 PNG, from its IHDR chunk; throws when it is not a PNG. */
export function pngSize(base64: string): { width: number; height: number } {
  const bytes = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** An SVG chart's words (title, axis labels, legend) and how many lines and points it draws. */
function svgMarks(svg: string): string {
  const words = [...svg.matchAll(/<text[^>]*>([^<]*[A-Za-z][^<]*)<\/text>/g)].map((m) => m[1]);
  const count = (tag: string) => svg.split(`<${tag} `).length - 1;
  return `${words.join(' | ')} | ${count('path')} lines, ${count('circle')} points`;
}

function compareData(where: string, mime: string, want: string, got: string, sameBuild: boolean): string[] {
  if (mime === 'image/png') {
    const [w, g] = [pngSize(want), pngSize(got)];
    return w.width === g.width && w.height === g.height ? [] : [`${where}: PNG is ${g.width}x${g.height}, committed ${w.width}x${w.height}`];
  }
  if (mime === 'image/svg+xml') {
    // Coordinates are pixels rounded to a tenth; the axes' range and ticks follow the data.
    if (sameBuild) return compareText(where, want, got, { rel: 0.01, abs: 0.2 });
    const [w, g] = [svgMarks(want), svgMarks(got)];
    return w === g ? [] : [`${where}: the chart shows ${g}, committed ${w}`];
  }
  return compareText(where, want, got, sameBuild ? { rel: 1e-3, abs: 1e-4 } : null);
}

/**
 * The differences between a committed notebook and a fresh execution of it, in the stable parts
 * of their outputs, as readable lines (empty when they agree).
 */
export function compareOutputs(committed: Notebook, fresh: Notebook): string[] {
  const want = codeCells(committed);
  const got = codeCells(fresh);
  if (want.length !== got.length) return [`${got.length} code cells, committed ${want.length}`];
  const sameBuild = backendLine(committed) === backendLine(fresh);
  const diffs: string[] = [];
  want.forEach((cell, c) => {
    const where = `code cell ${c + 1}`;
    if (cell.source !== got[c].source) diffs.push(`${where}: the source differs from the one executed`);
    const [a, b] = [cell.outputs, got[c].outputs];
    const kinds = (os: NotebookOutput[]) => os.map((o) => `${o.output_type}${o.name ? `:${o.name}` : ''}[${Object.keys(o.data ?? {}).sort().join(',')}]`).join(' ');
    if (kinds(a) !== kinds(b)) {
      diffs.push(`${where}: outputs are ${kinds(b) || 'none'}, committed ${kinds(a) || 'none'}`);
      return;
    }
    a.forEach((o, i) => {
      const at = `${where}, output ${i + 1}`;
      if (o.output_type === 'stream') diffs.push(...compareText(at, outputText(o), outputText(b[i]), sameBuild ? { rel: 1e-3, abs: 1e-4 } : null));
      for (const mime of Object.keys(o.data ?? {})) diffs.push(...compareData(`${at} (${mime})`, mime, joined(o.data![mime]), joined(b[i].data![mime]), sameBuild));
    });
  });
  if (diffs.length && !sameBuild) diffs.push(`(committed on "${backendLine(committed)}", run on "${backendLine(fresh)}": floats not compared)`);
  return diffs;
}
