// Compares a notebook's committed outputs with a fresh execution in their stable parts: the
// sequence of outputs of every code cell, their kinds and MIME types, their text with numbers
// compared to a tolerance (float results move in the last digits between machines and thread
// counts), PNG sizes, and SVG structure. The line naming the backend is the machine's, so it is
// compared only up to its prefix.

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

/** The source of every code cell, in order. */
export function codeCells(nb: Notebook): { source: string; outputs: NotebookOutput[] }[] {
  return nb.cells.filter((c) => c.cell_type === 'code').map((c) => ({ source: joined(c.source), outputs: c.outputs ?? [] }));
}

/** The text of an output: a stream's text, or a display's text/plain. */
export function outputText(o: NotebookOutput): string {
  return o.output_type === 'stream' ? joined(o.text) : joined(o.data?.['text/plain']);
}

const NUMBER = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi;
// The backend line reports this machine's build (native kernels, thread count).
const MACHINE_LINE = /^(busi backend: \w+).*$/gm;

/** Text with the machine-dependent line cut to its prefix, its numbers, and the rest with each number as '#'. */
function textShape(text: string): { shape: string; numbers: number[] } {
  const t = text.replace(MACHINE_LINE, '$1');
  return { shape: t.replace(NUMBER, '#').replace(/[ \t]+/g, ' '), numbers: (t.match(NUMBER) ?? []).map(Number) };
}

/** Whether two numbers agree within `rel` of the larger plus `abs`. */
const close = (a: number, b: number, rel: number, abs: number) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + abs;

function compareText(where: string, want: string, got: string, rel: number, abs: number): string[] {
  const w = textShape(want);
  const g = textShape(got);
  if (w.shape !== g.shape) {
    // Quote the first line that differs, not the whole output (an SVG is one long text).
    const [wl, gl] = [w.shape.split('\n'), g.shape.split('\n')];
    const line = wl.findIndex((l, i) => l !== gl[i]);
    const k = line < 0 ? wl.length : line;
    const quote = (text: string) => JSON.stringify((text.split('\n')[k] ?? '(no such line)').slice(0, 300));
    return [`${where}: line ${k + 1} differs\n  committed: ${quote(want)}\n  now:       ${quote(got)}`];
  }
  const bad = w.numbers.findIndex((x, i) => !close(x, g.numbers[i], rel, abs));
  return bad < 0 ? [] : [`${where}: number ${bad + 1} is ${g.numbers[bad]}, committed ${w.numbers[bad]} (tolerance ${rel} relative + ${abs})`];
}

/** Width and height of a base64 PNG, from its IHDR chunk; throws when it is not a PNG. */
export function pngSize(base64: string): { width: number; height: number } {
  const bytes = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

function compareData(where: string, mime: string, want: string, got: string): string[] {
  if (mime === 'image/png') {
    const [w, g] = [pngSize(want), pngSize(got)];
    return w.width === g.width && w.height === g.height ? [] : [`${where}: PNG is ${g.width}x${g.height}, committed ${w.width}x${w.height}`];
  }
  // Chart coordinates are pixels rounded to a tenth: a loss that moves a little moves them a little.
  if (mime === 'image/svg+xml') return compareText(where, want, got, 0.05, 2);
  return compareText(where, want, got, 1e-3, 1e-4);
}

/**
 * The differences between a committed notebook and a fresh execution of it, in the stable parts
 * of their outputs, as readable lines (empty when they agree).
 */
export function compareOutputs(committed: Notebook, fresh: Notebook): string[] {
  const want = codeCells(committed);
  const got = codeCells(fresh);
  if (want.length !== got.length) return [`${got.length} code cells, committed ${want.length}`];
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
      if (o.output_type === 'stream') diffs.push(...compareText(at, outputText(o), outputText(b[i]), 1e-3, 1e-4));
      for (const mime of Object.keys(o.data ?? {})) diffs.push(...compareData(`${at} (${mime})`, mime, joined(o.data![mime]), joined(b[i].data![mime])));
    });
  });
  return diffs;
}
