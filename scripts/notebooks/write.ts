// npm run notebooks [-- 02-train-synthetic.ipynb ...]: executes the notebooks in examples/notebooks/
// (all, or the ones named) through Deno's Jupyter kernel and writes each back with its outputs.
// Nothing is written unless every notebook ran without a cell error; each file is replaced
// atomically, so an interrupted run leaves the committed notebooks as they were.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../packages/node/src/runs/run-folder';
import { executeNotebook, jupyterMissing, listNotebooks, NOTEBOOK_DIR } from './jupyter';
import { codeCells, type Notebook } from './outputs';

function selected(names: string[]): string[] {
  const all = listNotebooks();
  if (!names.length) return all;
  return names.map((n) => {
    const file = all.find((f) => path.basename(f) === path.basename(n));
    if (!file) throw new Error(`no notebook '${n}' in examples/notebooks (there are: ${all.map((f) => path.basename(f)).join(', ')})`);
    return file;
  });
}

function main(): void {
  const missing = jupyterMissing();
  if (missing) throw new Error(`cannot run the notebooks: ${missing}`);
  const files = selected(process.argv.slice(2));
  const executed = files.map((file) => {
    const t0 = Date.now();
    const text = executeNotebook(file);
    const outputs = codeCells(JSON.parse(text) as Notebook).reduce((n, c) => n + c.outputs.length, 0);
    console.log(`${path.relative(NOTEBOOK_DIR, file)}: ${outputs} outputs in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return { file, text };
  });
  const changed = executed.filter(({ file, text }) => fs.readFileSync(file, 'utf8') !== text);
  for (const { file, text } of changed) writeFileAtomic(file, text);
  console.log(`${changed.length} of ${executed.length} notebook files rewritten with their outputs`);
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
}
