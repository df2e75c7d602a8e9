#!/usr/bin/env node
// Runs a TypeScript benchmark without a build step or extra dependency: esbuild (already present
// through tsup) bundles it with the workspace sources, tfjs stays external so one tfjs-core
// instance is shared. Usage: node packages/node/bench/run.mjs <script.ts> [args...]
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const entry = process.argv[2];
if (!entry) {
  console.error('usage: node packages/node/bench/run.mjs <script.ts> [args...]');
  process.exit(2);
}
const outDir = path.join(root, '.bench', 'build');
mkdirSync(outDir, { recursive: true });
const outfile = path.join(outDir, path.basename(entry).replace(/\.ts$/, '.cjs'));
// Exactly `@busi/<pkg>` maps to its sources; subpaths such as `@busi/kernels/package.json` (which
// the kernels resolve to find their native addon) stay real files, unlike with esbuild's prefix alias.
const PACKAGES = ['core', 'backbones', 'decoders', 'losses', 'kernels', 'data', 'onnx', 'node'];
const busiSources = {
  name: 'busi-sources',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^@busi/(${PACKAGES.join('|')})$`) }, (a) => ({ path: path.join(root, 'packages', a.path.slice('@busi/'.length), 'src', 'index.ts') }));
  },
};
await build({
  entryPoints: [path.resolve(entry)],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile,
  plugins: [busiSources],
  external: ['@tensorflow/*', 'sharp', 'onnxruntime-node'],
  sourcemap: 'inline',
  logLevel: 'warning',
});
process.argv.splice(2, 1);
createRequire(import.meta.url)(outfile);
