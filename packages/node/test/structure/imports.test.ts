/**
 * The package structure as an executable rule: no import circle anywhere in the sources, the
 * package graph is the documented one (docs/architecture.md) and matches each package.json, and
 * inside @busi/node the command line sits on top: only cli/, commands/ and the entry points reach
 * the commands, and a command imports no other command (shared option parsing is commands/run-args.ts).
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
    const problems: string[] = [];
    for (const n of graph.values()) {
      const local = n.file.slice('packages/node/src/'.length);
      // The entry points (the package index, the CLI binary) sit above everything.
      if (n.pkg !== 'node' || local === 'index.ts' || local === 'cli.ts') continue;
      for (const target of n.imports.filter((t) => t.startsWith('packages/node/src/')).map((t) => t.slice('packages/node/src/'.length))) {
        const isCommand = target.startsWith('commands/') && target !== 'commands/run-args.ts';
        // Known debt: the sweep engine reads train's option table (run-args) to validate sweep files; it belongs in runs/.
        if (target === 'commands/run-args.ts' && local.startsWith('sweep/')) continue;
        if ((target.startsWith('commands/') || target === 'cli/main.ts') && !local.startsWith('cli') && !local.startsWith('commands/')) {
          problems.push(`${local} imports ${target} (only cli/ and commands/ may)`);
        }
        if (local.startsWith('commands/') && local !== 'commands/index.ts' && isCommand) problems.push(`${local} imports the command ${target}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
