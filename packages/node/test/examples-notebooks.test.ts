/**
 * The Deno notebooks in examples/notebooks/ are committed with their outputs (`npm run notebooks`
 * records them). Here: the committed outputs are real (the shapes, checks and plots each notebook
 * shows), and each notebook, executed again through Deno's Jupyter kernel by Python's nbclient
 * (Debian: python3-nbclient, which .ci/run installs), runs without a cell error and gives the
 * committed outputs in their stable parts, so the notebooks cannot silently rot. Without nbclient
 * or deno the kernel runs are skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { denoLauncher, executeNotebook, jupyterMissing, listNotebooks, NOTEBOOK_DIR, REPO_ROOT } from '../../../scripts/notebooks/jupyter';
import { codeCells, compareOutputs, outputText, pngSize, type Notebook, type NotebookOutput } from '../../../scripts/notebooks/outputs';
import { workspacePackages } from '../../../scripts/import-graph';

const files = listNotebooks();
const names = files.map((f) => path.basename(f));
const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;

const allOutputs = (nb: Notebook) => codeCells(nb).flatMap((c) => c.outputs);
const texts = (nb: Notebook) => allOutputs(nb).map(outputText).join('\n');
const displayed = (nb: Notebook, mime: string) => allOutputs(nb).filter((o) => o.output_type === 'display_data' && o.data?.[mime] !== undefined);
const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : (t ?? ''));

/** What each notebook must show: the results it exists to demonstrate. */
const EXPECTED: Record<string, (nb: Notebook) => void> = {
  '01-compose-and-predict.ipynb': (nb) => {
    const t = texts(nb);
    expect(t).toMatch(/^busi backend: \w+/m);
    expect(t).toMatch(/^encoders: .*resnet18.*$/m);
    expect(t).toContain('total               14,329,748 params in 110 layers');
    expect(t).toContain('mask logits [ 2, 64, 64, 1 ] class logits [ 2, 3 ]');
    expect(t).toContain('height and width must be divisible by the output stride 32, got 70x70');
  },
  '02-train-synthetic.ipynb': (nb) => {
    const t = texts(nb);
    expect(t).toContain('train [ 12, 64, 64, 3 ]');
    const losses = [...t.matchAll(/^epoch (\d): loss (\d+\.\d+) {2}val_loss (\d+\.\d+)/gm)];
    expect(losses.map((m) => Number(m[1]))).toEqual([1, 2, 3]);
    for (const m of losses) expect(Number(m[2])).toBeGreaterThan(0);
    // The plots: the loss chart as SVG, the predicted mask over the image as a 64 x 64 PNG.
    const svg = displayed(nb, 'image/svg+xml');
    expect(svg).toHaveLength(1);
    const chart = joined(svg[0].data!['image/svg+xml']);
    expect(chart).toMatch(/^<svg [^>]*viewBox="0 0 560 340"/);
    expect(chart).toContain('training loss (each batch)');
    expect(chart.match(/<path /g)?.length).toBe(2);
    const png = displayed(nb, 'image/png');
    expect(png).toHaveLength(1);
    expect(pngSize(joined(png[0].data!['image/png']))).toEqual({ width: 64, height: 64 });
  },
  '03-save-load-and-weights.ipynb': (nb) => {
    const t = texts(nb);
    expect(t).toMatch(/\[ .*"model\.json".*"weights\.bin".* \]/);
    expect(t).toContain('largest logit difference after the round trip: 0\n');
    expect(t).toMatch(/accuracy: \d/);
    expect(t).toMatch(/\d+ tensors loaded, 0 missing, 0 unexpected; logit difference 0\n/);
  },
};

describe('examples/notebooks as committed', () => {
  test('the three notebooks, each for the deno kernel, with a check of what it shows', () => {
    expect(names).toEqual(Object.keys(EXPECTED));
    for (const f of files) expect(read(f).metadata.kernelspec?.name).toBe('deno');
  });

  test('deno.json maps every workspace package to its sources', () => {
    const imports = (JSON.parse(fs.readFileSync(path.join(NOTEBOOK_DIR, 'deno.json'), 'utf8')) as { imports: Record<string, string> }).imports;
    for (const pkg of workspacePackages(REPO_ROOT)) {
      expect([pkg, imports[`@busi/${pkg}`]]).toEqual([pkg, `../../packages/${pkg}/src/index.ts`]);
    }
  });

  test.each(names)('%s is stored executed: every code cell ran in order, no error, the expected outputs', (name) => {
    const nb = read(path.join(NOTEBOOK_DIR, name));
    const counts = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (c as { execution_count?: number | null }).execution_count);
    expect(counts).toEqual(counts.map((_, i) => i + 1));
    expect(allOutputs(nb).filter((o) => o.output_type === 'error')).toEqual([]);
    // Every cell but the last (which frees tensors) shows something.
    expect(codeCells(nb).slice(0, -1).filter((c) => c.outputs.length === 0).map((c) => c.source.slice(0, 60))).toEqual([]);
    EXPECTED[name](nb);
  });

  test('deno runs from the npm package without its install script', () => {
    const bin = denoLauncher();
    expect(bin).not.toBeNull();
    const r = spawnSync(process.execPath, [bin!, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^deno \d+\.\d+\.\d+/);
  });
});

describe('compareOutputs (committed against fresh)', () => {
  const stream = (text: string): NotebookOutput => ({ output_type: 'stream', name: 'stdout', text });
  const nb = (...outputs: NotebookOutput[][]): Notebook => ({ metadata: {}, cells: outputs.map((o) => ({ cell_type: 'code', source: 'x', outputs: o })) });
  const png = (w: number, h: number) => {
    const b = Buffer.alloc(33);
    b.writeUInt32BE(0x89504e47, 0);
    b.write('IHDR', 12, 'latin1');
    b.writeUInt32BE(w, 16);
    b.writeUInt32BE(h, 20);
    return b.toString('base64');
  };

  const native = 'busi backend: wasm (SIMD on, native BLAS kernels on 2 threads)\n';
  const wasm = 'busi backend: wasm (SIMD on, threads off)\n';

  test('on the same build: floats agree to rounding, a moved float is reported', () => {
    expect(compareOutputs(nb([stream(`${native}loss 0.52790\n`)]), nb([stream(`${native}loss 0.52791\n`)]))).toEqual([]);
    expect(compareOutputs(nb([stream(`${native}loss 0.5279\n`)]), nb([stream(`${native}loss 0.6279\n`)]))).toEqual([expect.stringContaining('code cell 1, output 1: number 1 is 0.6279, committed 0.5279')]);
  });

  test('on another build: floats may move, integers may not', () => {
    expect(compareOutputs(nb([stream(`${native}loss 0.5279 [ 2, 64 ]\n`)]), nb([stream(`${wasm}loss 0.6279 [ 2, 64 ]\n`)]))).toEqual([]);
    expect(compareOutputs(nb([stream(`${native}[ 2, 64 ]\n`)]), nb([stream(`${wasm}[ 2, 32 ]\n`)]))).toEqual([
      'code cell 1, output 1: number 2 is 32, committed 64',
      expect.stringContaining('floats not compared'),
    ]);
  });

  test('reports a changed word, a lost output, a resized PNG and a chart with other marks', () => {
    expect(compareOutputs(nb([stream('2 missing\n')]), nb([stream('2 unexpected\n')]))).toEqual(['code cell 1, output 1: line 1 differs\n  committed: "2 missing"\n  now:       "2 unexpected"']);
    expect(compareOutputs(nb([stream('a\n')], [stream('b\n')]), nb([stream('a\n')], []))).toEqual(['code cell 2: outputs are none, committed stream:stdout[]']);
    const img = (w: number) => nb([{ output_type: 'display_data', data: { 'image/png': png(w, 64) } }]);
    expect(compareOutputs(img(64), img(64))).toEqual([]);
    expect(compareOutputs(img(64), img(32))).toEqual(['code cell 1, output 1 (image/png): PNG is 32x64, committed 64x64']);
    const chart = (legend: string, y: number) =>
      nb([stream(native)], [{ output_type: 'display_data', data: { 'image/svg+xml': `<svg><text x="1">0.5</text><text x="2">${legend}</text><path d="M0 ${y}"/><circle cx="0" cy="${y}"/></svg>` } }]);
    expect(compareOutputs(chart('loss', 10), chart('loss', 10.1))).toEqual([]);
    const other = chart('loss', 40);
    other.cells[0].outputs = [stream(wasm)];
    expect(compareOutputs(chart('loss', 10), other)).toEqual([]);
    other.cells[1].outputs![0].data!['image/svg+xml'] = (other.cells[1].outputs![0].data!['image/svg+xml'] as string).replace('loss', 'dice');
    expect(compareOutputs(chart('loss', 10), other)[0]).toBe('code cell 2, output 1 (image/svg+xml): the chart shows dice | 1 lines, 1 points, committed loss | 1 lines, 1 points');
  });
});

// The notebooks' real home: Jupyter with the Deno kernel, cells evaluated one by one.
const missing = jupyterMissing();
if (missing) console.warn(`examples-notebooks.test: the Deno Jupyter kernel runs are skipped: ${missing}`);
(missing ? describe.skip : describe)("examples/notebooks in Deno's Jupyter kernel", () => {
  test.each(names)('%s runs without a cell error and gives the committed outputs', (name) => {
    const file = path.join(NOTEBOOK_DIR, name);
    const fresh = JSON.parse(executeNotebook(file)) as Notebook;
    EXPECTED[name](fresh);
    const diffs = compareOutputs(read(file), fresh);
    if (diffs.length) throw new Error(`${name}: the committed outputs no longer match the code (npm run notebooks records them again):\n${diffs.join('\n')}`);
  });
});
