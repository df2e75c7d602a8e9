/**
 * One registry per process: @busi/core bundled twice, as its ESM and its CJS build are, then loaded
 * with `import` and `require` side by side: what one copy registers, the other sees.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Writes `lines` as `<dir>/main.mjs`, runs it with node in `dir` and returns the JSON its last line
 * prints; nothing may go to stderr.
 */
function runModule(dir: string, lines: string[]): any {
  fs.writeFileSync(path.join(dir, 'main.mjs'), lines.join('\n'));
  const r = spawnSync(process.execPath, [path.join(dir, 'main.mjs')], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('the ESM and the CJS copy of @busi/core share their encoder and decoder registries', async () => {
  // Inside node_modules, so the bundles' bare imports (@tensorflow/*) resolve; .cache may not exist yet after npm ci.
  const cache = path.join(root, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const dir = fs.mkdtempSync(path.join(cache, 'busi-registry-'));
  try {
    const common = { entryPoints: [path.join(root, 'packages', 'core', 'src', 'index.ts')], bundle: true, platform: 'node' as const, external: ['@tensorflow/*'], alias: { '@busi/losses': path.join(root, 'packages', 'losses', 'src', 'index.ts') }, logLevel: 'error' as const };
    await esbuild.build({ ...common, format: 'esm', outfile: path.join(dir, 'core.mjs') });
    await esbuild.build({ ...common, format: 'cjs', outfile: path.join(dir, 'core.cjs') });
    const seen = runModule(dir, [
      "import { createRequire } from 'node:module';",
      "import * as esm from './core.mjs';",
      'const cjs = createRequire(import.meta.url)(\'./core.cjs\');',
      "esm.registerEncoder('esm-only', () => { throw new Error('not built'); }, {});",
      "cjs.registerDecoder('cjs-only', () => { throw new Error('not built'); }, { encoderOutputStride: 32 });",
      'console.log(JSON.stringify({ same: esm.encoders === cjs.encoders && esm.decoders === cjs.decoders, cjsSees: cjs.encoders.has(\'esm-only\'), esmSees: esm.decoders.has(\'cjs-only\') }));',
    ]);
    expect(seen).toEqual({ same: true, cjsSees: true, esmSees: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

// The report as a user hit it: the published builds (packages/*/dist, which `npm run build` writes
// and CI has built before the tests), @busi/backbones loaded with `import` and @busi/core with `require`.
const built = ['core', 'backbones'].every((p) => ['index.js', 'index.cjs'].every((f) => fs.existsSync(path.join(root, 'packages', p, 'dist', f))));
if (!built) console.warn('shared-registry.test: the built-package case skipped: packages/core and packages/backbones have no dist/ (npm run build)');
(built ? test : test.skip)('the built packages: encoders registered by the ESM @busi/backbones are seen by a CJS require of @busi/core', () => {
  const cache = path.join(root, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const dir = fs.mkdtempSync(path.join(cache, 'busi-registry-built-'));
  try {
    const seen = runModule(dir, [
      "import { createRequire } from 'node:module';",
      "import '@busi/backbones';",
      "import * as esm from '@busi/core';",
      "const cjs = createRequire(import.meta.url)('@busi/core');",
      'console.log(JSON.stringify({ esm: esm.listEncoders().length, cjs: cjs.listEncoders().length, resnet50: cjs.encoders.has(\'resnet50\') }));',
    ]);
    expect(seen.esm).toBeGreaterThan(10);
    expect(seen).toEqual({ esm: seen.esm, cjs: seen.esm, resnet50: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
