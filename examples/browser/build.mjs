// Builds the browser demo into a static folder: index.html, main.js (esbuild bundle of main.ts with
// @busi/* taken from the TypeScript sources), the tfjs and ONNX Runtime wasm binaries that main.ts loads and the
// shipped demo model (model/, trained by train-model.mjs).
//
//   node examples/browser/build.mjs [out-dir=examples/browser/dist]
//   node examples/browser/serve.mjs --model path/to/saved-model   # then open the printed URL
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const PACKAGES = ['core', 'backbones', 'decoders', 'losses', 'onnx', 'node'];

/** Writes the demo to `outDir` and returns the list of files written. */
export async function buildBrowserDemo(outDir = path.join(here, 'dist'), { minify = true } = {}) {
  fs.mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(here, 'main.ts')],
    outfile: path.join(outDir, 'main.js'),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify,
    sourcemap: true,
    alias: Object.fromEntries(PACKAGES.map((p) => [`@busi/${p}`, path.join(root, 'packages', p, 'src', 'index.ts')])),
    // tfjs-backend-wasm's Emscripten glue names Node modules it only uses under Node.
    external: ['fs', 'path', 'crypto', 'worker_threads', 'perf_hooks', 'os'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(here, 'index.html'), path.join(outDir, 'index.html'));
  const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const wasm = fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'));
  for (const f of wasm) fs.copyFileSync(path.join(wasmDir, f), path.join(outDir, f));
  // ONNX Runtime Web's default bundle runs on this one binary (WebGPU and wasm execution providers).
  const ortDir = path.join(root, 'node_modules', 'onnxruntime-web', 'dist');
  const ortWasm = ['ort-wasm-simd-threaded.jsep.wasm'];
  for (const f of ortWasm) fs.copyFileSync(path.join(ortDir, f), path.join(outDir, f));
  // The shipped demo model (train-model.mjs), so the page's default flow runs a trained model.
  const model = path.join(here, 'model');
  const modelFiles = fs.existsSync(model) ? fs.readdirSync(model) : [];
  if (modelFiles.length) fs.cpSync(model, path.join(outDir, 'model'), { recursive: true });
  return ['index.html', 'main.js', 'main.js.map', ...wasm, ...ortWasm, ...modelFiles.map((f) => `model/${f}`)];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(process.argv[2] ?? path.join(here, 'dist'));
  const files = await buildBrowserDemo(out);
  console.log(`built ${files.join(', ')} in ${out}`);
}
