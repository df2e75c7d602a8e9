// Executes the Deno notebooks in examples/notebooks/ through a real Jupyter kernel, the way a user
// opens them: Python's nbclient (Debian: python3-nbclient) starts `deno jupyter --kernel` from the
// `deno` npm package and evaluates the cells one by one, collecting their outputs (streams, rich
// display data, errors). Used by `npm run notebooks` (which commits the outputs) and by the test
// that keeps the committed outputs true to the code.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../packages/node/bench/reproduce/python';

/** The repository root (found from the file, so this also works from a bench bundle). */
export const REPO_ROOT = repoRoot();
/** Where the notebooks (and their deno.json import map) live. */
export const NOTEBOOK_DIR = path.join(REPO_ROOT, 'examples', 'notebooks');

/** The notebook files, sorted. */
export function listNotebooks(): string[] {
  return fs
    .readdirSync(NOTEBOOK_DIR)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .map((f) => path.join(NOTEBOOK_DIR, f));
}

/** Deno's launcher script from the `deno` npm package, or null when it is not installed. */
export function denoLauncher(): string | null {
  try {
    return require.resolve('deno/bin.cjs', { paths: [REPO_ROOT] });
  } catch {
    return null;
  }
}

/** A Python that imports nbclient and nbformat (Debian's /usr/bin/python3 after apt), or null. */
export function jupyterPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import nbclient, nbformat'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** Why notebooks cannot run through Jupyter here, or null when they can. */
export function jupyterMissing(): string | null {
  if (!denoLauncher()) return 'the deno npm package is not installed (npm ci)';
  if (!jupyterPython()) return 'no Python with nbclient (Debian: apt-get install -y python3-nbclient)';
  return null;
}

// Runs one notebook in the kernel named "deno" with the notebook's folder as working directory and
// prints the executed notebook in nbformat's own layout. record_timing=False keeps timestamps out
// of the cell metadata; a cell that raises stops the run with nbclient's CellExecutionError, which
// quotes the cell and the kernel's traceback.
//
// Deno's kernel can publish a cell's last output (a console line, a display) a few milliseconds
// after it reported the cell idle; nbclient stops listening at idle and would drop it, so a notebook
// would lose a random line under load. After idle this client keeps collecting the cell's messages
// until the kernel has been quiet for a moment (LATE_OUTPUT_S).
const EXECUTE_PY = `
import queue, sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbclient.util import ensure_async

LATE_OUTPUT_S = 1.0

class LateOutputClient(NotebookClient):
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        idle = False
        while True:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=LATE_OUTPUT_S if idle else None))
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                idle = True

if not hasattr(NotebookClient, "_async_poll_output_msg"):
    sys.exit("this nbclient has no _async_poll_output_msg (written for Debian's nbclient 0.7)")
nb = nbformat.read(sys.argv[1], as_version=4)
LateOutputClient(nb, timeout=int(sys.argv[3]), kernel_name="deno", record_timing=False,
                 resources={"metadata": {"path": sys.argv[2]}}).execute()
# The kernel splits console output into messages as it flushes; one stream per run of lines.
for cell in nb.cells:
    merged = []
    for out in cell.get("outputs", []):
        if merged and out.output_type == "stream" and merged[-1].output_type == "stream" and merged[-1].name == out.name:
            merged[-1].text += out.text
        else:
            merged.append(out)
    if cell.cell_type == "code":
        cell.outputs = merged
sys.stdout.write(nbformat.writes(nb) + "\\n")
`;

/** Options of {@link executeNotebook}. */
export interface ExecuteOptions {
  /** Seconds a cell may run. Default 300. */
  cellTimeout?: number;
}

/**
 * Executes `file` through the Deno Jupyter kernel and returns the executed notebook (nbformat's
 * JSON text); the file itself is not touched. The kernelspec is written into a temporary
 * JUPYTER_PATH, so nothing is installed into the user's Jupyter folders. Throws on a cell error.
 */
export function executeNotebook(file: string, options: ExecuteOptions = {}): string {
  const missing = jupyterMissing();
  if (missing) throw new Error(`cannot execute ${path.basename(file)}: ${missing}`);
  const cellTimeout = options.cellTimeout ?? 300;
  const jupyterPath = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-jupyter-'));
  try {
    const kernelDir = path.join(jupyterPath, 'kernels', 'deno');
    fs.mkdirSync(kernelDir, { recursive: true });
    const argv = [process.execPath, denoLauncher()!, 'jupyter', '--kernel', '--conn', '{connection_file}'];
    fs.writeFileSync(path.join(kernelDir, 'kernel.json'), JSON.stringify({ argv, display_name: 'Deno', language: 'typescript' }));
    const r = spawnSync(jupyterPython()!, ['-c', EXECUTE_PY, file, path.dirname(file), String(cellTimeout)], {
      cwd: path.dirname(file),
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      env: { ...process.env, JUPYTER_PATH: jupyterPath, BUSI_BACKEND: 'auto', NO_COLOR: '1' },
    });
    if (r.status !== 0) throw new Error(`${path.basename(file)}: the notebook failed in the Deno kernel (exit ${r.status ?? r.signal}):\n${r.stderr}`);
    JSON.parse(r.stdout); // a truncated or mixed stdout fails here, not in the caller
    return r.stdout;
  } finally {
    fs.rmSync(jupyterPath, { recursive: true, force: true });
  }
}
