/**
 * Runs every Deno notebook in examples/notebooks/: the code cells of each, in order, concatenated
 * into one module beside the notebooks' deno.json (which maps @busi/* to the TypeScript sources and
 * resolves other packages from node_modules), executed with `deno run -A`. The notebooks throw on
 * wrong results, so a clean exit is the check. Deno comes from the `deno` npm devDependency.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = path.join(root, 'examples', 'notebooks');

interface Cell {
  cell_type: string;
  source: string | string[];
}

/** The code cells of a notebook in order, joined into one TypeScript module. */
export function notebookModule(file: string): string {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[]; metadata: { kernelspec?: { name?: string } } };
  if (nb.metadata.kernelspec?.name !== 'deno') throw new Error(`${file}: kernelspec is not deno`);
  return nb.cells
    .filter((c) => c.cell_type === 'code')
    .map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source))
    .join('\n\n');
}

function denoBin(): string | null {
  try {
    return require.resolve('deno/bin.cjs', { paths: [root] });
  } catch {
    return null;
  }
}

const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();

describe('examples/notebooks (Deno kernel)', () => {
  test('there are notebooks, each with a deno kernelspec and code cells', () => {
    expect(notebooks).toEqual(['01-compose-and-predict.ipynb', '02-train-synthetic.ipynb', '03-save-load-and-weights.ipynb']);
    for (const nb of notebooks) expect(notebookModule(path.join(dir, nb)).length).toBeGreaterThan(200);
  });

  test('deno runs from the npm package without its install script', () => {
    const bin = denoBin();
    expect(bin).not.toBeNull();
    const r = spawnSync(process.execPath, [bin!, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^deno \d+\.\d+\.\d+/);
  });

  test.each(notebooks)('%s runs cell by cell without error', (nb) => {
    const bin = denoBin()!;
    // Beside deno.json, so its import map and node_modules resolution apply.
    const tmp = path.join(dir, `.test-${path.basename(nb, '.ipynb')}-${process.pid}.ts`);
    fs.writeFileSync(tmp, notebookModule(path.join(dir, nb)));
    try {
      const r = spawnSync(process.execPath, [bin, 'run', '-A', '--quiet', tmp], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 300_000,
        env: { ...process.env, BUSI_BACKEND: 'auto', NO_COLOR: '1' },
      });
      if (r.status !== 0) throw new Error(`${nb}: deno exited with ${r.status} (${r.signal ?? 'no signal'})\n${r.stdout}\n${r.stderr}`);
      expect(r.stdout).toContain('busi backend:');
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  });
});
