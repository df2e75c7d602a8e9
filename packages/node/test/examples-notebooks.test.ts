/**
 * Runs every Deno notebook in examples/notebooks/: the code cells of each, in order, concatenated
 * into one module beside the notebooks' deno.json (which maps @busi/* to the TypeScript sources and
 * resolves other packages from node_modules), executed with `deno run -A`. The notebooks throw on
 * wrong results, so a clean exit is the check. Deno comes from the `deno` npm devDependency.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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

/** A Python with nbclient (to drive a real Jupyter kernel), or null. */
function pythonWithNbclient(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import nbclient, nbformat'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

// Executes a notebook in the kernel named "deno" and prints its outputs' types as JSON.
const EXECUTE_PY = `
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="deno", resources={"metadata": {"path": sys.argv[2]}}).execute()
outs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
print(json.dumps([{"type": o.output_type, "mime": sorted(o.get("data", {}).keys()), "text": o.get("text", "")[:200]} for o in outs]))
`;

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

  // The notebooks' real home: Jupyter with the Deno kernel (cells evaluated one by one, rich
  // display). Needs Python's nbclient (Debian: python3-nbclient), so it is skipped where absent.
  const python = pythonWithNbclient();
  (python ? test : test.skip)('02-train-synthetic.ipynb runs in the Deno Jupyter kernel and displays its overlay PNG', () => {
    const jupyterPath = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-jupyter-'));
    try {
      // A private kernelspec, so nothing is installed into the user's Jupyter folders.
      fs.mkdirSync(path.join(jupyterPath, 'kernels', 'deno'), { recursive: true });
      const argv = [process.execPath, denoBin()!, 'jupyter', '--kernel', '--conn', '{connection_file}'];
      fs.writeFileSync(path.join(jupyterPath, 'kernels', 'deno', 'kernel.json'), JSON.stringify({ argv, display_name: 'Deno', language: 'typescript' }));
      const r = spawnSync(python!, ['-c', EXECUTE_PY, path.join(dir, '02-train-synthetic.ipynb'), dir], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 400_000,
        env: { ...process.env, JUPYTER_PATH: jupyterPath, BUSI_BACKEND: 'auto', NO_COLOR: '1' },
      });
      if (r.status !== 0) throw new Error(`nbclient failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
      const outputs = JSON.parse(r.stdout.trim().split('\n').pop()!) as { type: string; mime: string[]; text: string }[];
      expect(outputs.filter((o) => o.type === 'error')).toEqual([]);
      expect(outputs.some((o) => o.type === 'display_data' && o.mime.includes('image/png'))).toBe(true);
      expect(outputs.some((o) => o.text.includes('busi backend:'))).toBe(true);
    } finally {
      fs.rmSync(jupyterPath, { recursive: true, force: true });
    }
  });
});
