/**
 * Prints the workspace's import circles and its package graph (see import-graph.ts). From the
 * repository root: `node packages/node/bench/run.mjs scripts/print-import-graph.ts`.
 */
import { findCycles, packageGraph, readImportGraph } from './import-graph';

const graph = readImportGraph(process.cwd());
const cycles = findCycles(graph);
process.stdout.write(`${graph.size} source files; ${cycles.length} import circle(s)\n`);
for (const c of cycles) process.stdout.write(`  circle: ${c.join(' <-> ')}\n`);
for (const [pkg, deps] of packageGraph(graph)) process.stdout.write(`@busi/${pkg} -> ${deps.map((d) => `@busi/${d}`).join(', ') || '(none)'}\n`);
