/**
 * The package structure as an executable rule: no import circle anywhere in the sources, the
 * package graph is the documented one (docs/architecture.md) and matches each package.json, and
 * inside @busi/node the command line sits on top: only cli/, commands/ and the entry points reach
 * the commands, and a command module imports no other command module (what several commands share,
 * such as the run options, lives in runs/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findCycles, importSpecifiers, packageGraph, readImportGraph } from '../../../../scripts/import-graph';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const graph = readImportGraph(root);

/** Which @busi packages each package may import: the layering of docs/architecture.md. */
const LAYERS: Record<string, string[]> = {
  losses: [],
  core: ['losses'],
  backbones: ['core'],
  decoders: ['core'],
  kernels: ['core'],
  data: ['core'],
  onnx: ['core'],
  node: ['backbones', 'core', 'data', 'decoders', 'kernels', 'losses', 'onnx'],
};

describe('import graph', () => {
  test('reads every package', () => {
    expect([...new Set([...graph.values()].map((n) => n.pkg))].sort()).toEqual(Object.keys(LAYERS).sort());
    expect(graph.get('packages/node/src/cli/main.ts')?.imports).toContain('packages/node/src/commands/index.ts');
  });

  test('finds a circle when there is one (the checker itself)', () => {
    const toy = new Map([
      ['a.ts', { imports: ['b.ts'] }],
      ['b.ts', { imports: ['c.ts'] }],
      ['c.ts', { imports: ['a.ts', 'd.ts'] }],
      ['d.ts', { imports: [] }],
      ['e.ts', { imports: ['e.ts'] }],
    ]);
    expect(findCycles(toy)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
    expect(findCycles(new Map([['a.ts', { imports: ['b.ts'] }], ['b.ts', { imports: [] }]]))).toEqual([]);
    expect(importSpecifiers("import type { A } from './a';\nexport * from \"./b\";\n// import x from './c'\nconst m = import('./d');\nimport './e';")).toEqual(['./a', './b', './d', './e']);
  });

  test('no import circle in the sources (type-only imports included)', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  test('packages import only the layers below them, and declare what they import', () => {
    const problems: string[] = [];
    for (const [pkg, deps] of packageGraph(graph)) {
      for (const d of deps) if (!LAYERS[pkg].includes(d)) problems.push(`@busi/${pkg} imports @busi/${d} (allowed: ${LAYERS[pkg].join(', ') || 'none'})`);
      const manifest = JSON.parse(fs.readFileSync(path.join(root, 'packages', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const d of deps) if (!manifest.dependencies?.[`@busi/${d}`]) problems.push(`packages/${pkg}/package.json does not list @busi/${d}`);
    }
    expect(problems).toEqual([]);
  });

  test('inside @busi/node only the command line reaches the commands, and commands do not import each other', () => {
    expect(commandLayerProblems([...graph.values()])).toEqual([]);
  });

  test('the command-layer rule fails on an import from below and between commands (the checker itself)', () => {
    const toy = [
      { file: 'packages/node/src/sweep/spec.ts', pkg: 'node', imports: ['packages/node/src/commands/train.ts'] },
      { file: 'packages/node/src/runs/train-run.ts', pkg: 'node', imports: ['packages/node/src/cli/main.ts'] },
      { file: 'packages/node/src/commands/cv.ts', pkg: 'node', imports: ['packages/node/src/commands/train.ts', 'packages/node/src/runs/run-options.ts'] },
      { file: 'packages/node/src/commands/index.ts', pkg: 'node', imports: ['packages/node/src/commands/cv.ts'] },
      { file: 'packages/node/src/index.ts', pkg: 'node', imports: ['packages/node/src/commands/index.ts'] },
    ];
    expect(commandLayerProblems(toy)).toEqual([
      'sweep/spec.ts imports commands/train.ts (only cli/ and commands/ may)',
      'runs/train-run.ts imports cli/main.ts (only cli/ and commands/ may)',
      'commands/cv.ts imports the command commands/train.ts',
    ]);
  });
});

/** Imports in @busi/node that break the command layer: from below cli/ and commands/ into them, or from one command module into another. */
function commandLayerProblems(nodes: readonly { file: string; pkg: string; imports: readonly string[] }[]): string[] {
  const problems: string[] = [];
  const src = 'packages/node/src/';
  for (const n of nodes) {
    const local = n.file.slice(src.length);
    // The entry points (the package index, the CLI binary) sit above everything.
    if (n.pkg !== 'node' || local === 'index.ts' || local === 'cli.ts') continue;
    for (const target of n.imports.filter((t) => t.startsWith(src)).map((t) => t.slice(src.length))) {
      if ((target.startsWith('commands/') || target === 'cli/main.ts') && !local.startsWith('cli/') && !local.startsWith('commands/')) {
        problems.push(`${local} imports ${target} (only cli/ and commands/ may)`);
      }
      if (local.startsWith('commands/') && local !== 'commands/index.ts' && target.startsWith('commands/')) problems.push(`${local} imports the command ${target}`);
    }
  }
  return problems;
}
