/**
 * The import graph of the workspace sources (`packages/<name>/src/**.ts`), read from the text of
 * each file: static `import` / `export … from`, side-effect imports and literal `import('…')`.
 * `@busi/<name>` resolves to that package's `src/index.ts`, so the graph spans packages as the
 * jest and tsconfig mappings do. Used by the structure tests (no import circle, declared package
 * dependencies); `scripts/print-import-graph.ts` prints the circles and the package graph.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One source file and the workspace files it imports (paths relative to the repository root). */
export interface ModuleNode {
  /** The file, e.g. `packages/node/src/cli/main.ts`. */
  file: string;
  /** The package folder name it belongs to, e.g. `node`. */
  pkg: string;
  /** Workspace files it imports, resolved. */
  imports: string[];
  /** Bare `@busi/<name>` packages it names. */
  packages: string[];
}

const SPECIFIER = /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*\s{},$]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Strips comments (block and line) so that examples in doc comments are not read as imports. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The module specifiers a TypeScript source names. */
export function importSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of withoutComments(text).matchAll(SPECIFIER)) out.push(m[1] ?? m[2]);
  return out;
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The workspace package folders (`packages/*` holding a package.json). */
export function workspacePackages(root: string): string[] {
  const dir = path.join(root, 'packages');
  return fs.readdirSync(dir).filter((p) => fs.existsSync(path.join(dir, p, 'package.json'))).sort();
}

function resolveFile(root: string, fromFile: string, spec: string): string | null {
  const base = path.resolve(root, path.dirname(fromFile), spec);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return path.relative(root, candidate).split(path.sep).join('/');
  }
  return null;
}

/** Reads every `packages/<name>/src/**.ts` under `root` into import-graph nodes, keyed by file. */
export function readImportGraph(root: string): Map<string, ModuleNode> {
  const names = workspacePackages(root);
  const graph = new Map<string, ModuleNode>();
  for (const pkg of names) {
    for (const abs of walk(path.join(root, 'packages', pkg, 'src')).sort()) {
      const file = path.relative(root, abs).split(path.sep).join('/');
      const node: ModuleNode = { file, pkg, imports: [], packages: [] };
      for (const spec of importSpecifiers(fs.readFileSync(abs, 'utf8'))) {
        const busi = /^@busi\/([\w-]+)$/.exec(spec);
        if (busi) {
          if (!names.includes(busi[1])) throw new Error(`${file}: imports ${spec}, which is not a workspace package (${names.join(', ')})`);
          node.packages.push(busi[1]);
          node.imports.push(`packages/${busi[1]}/src/index.ts`);
        } else if (spec.startsWith('.')) {
          const target = resolveFile(root, file, spec);
          if (!target) throw new Error(`${file}: cannot resolve import '${spec}'`);
          node.imports.push(target);
        }
      }
      node.imports = [...new Set(node.imports)];
      node.packages = [...new Set(node.packages)];
      graph.set(file, node);
    }
  }
  return graph;
}

/**
 * Every import circle: the strongly connected components of more than one file (or a file that
 * imports itself), each listed from its first file in path order. Tarjan's algorithm, iterative.
 */
export function findCycles(graph: ReadonlyMap<string, Pick<ModuleNode, 'imports'>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const edges = graph.get(top.v)?.imports ?? [];
      if (top.i < edges.length) {
        const w = edges[top.i++];
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].v, Math.min(low.get(work[work.length - 1].v)!, low.get(top.v)!));
      if (low.get(top.v) === index.get(top.v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.v);
        const selfLoop = scc.length === 1 && (graph.get(scc[0])?.imports ?? []).includes(scc[0]);
        if (scc.length > 1 || selfLoop) cycles.push(scc.sort());
      }
    }
  }
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Package → the `@busi/*` packages its sources import (itself excluded). */
export function packageGraph(graph: ReadonlyMap<string, ModuleNode>): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const n of graph.values()) {
    const deps = out.get(n.pkg) ?? new Set<string>();
    for (const p of n.packages) if (p !== n.pkg) deps.add(p);
    out.set(n.pkg, deps);
  }
  return new Map([...out].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => [k, [...v].sort()]));
}
