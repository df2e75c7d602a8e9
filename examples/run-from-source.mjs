// Runs an example (or any script importing @busi/*) against the TypeScript sources, without
// `npm run build`: esbuild bundles the script with @busi/* mapped to packages/*/src and every
// other package left external (so tfjs, its backends and sharp load from node_modules as usual).
//
//   node examples/run-from-source.mjs examples/02-train-synthetic.mjs [args...]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core', 'backbones', 'decoders', 'losses', 'kernels', 'data', 'onnx', 'node'];

/**
 * A fresh folder for bundles. It lies inside node_modules (ignored by git) because Node resolves an
 * ES module's bare imports from the module's own location upwards.
 */
export function bundleDir() {
  const base = path.join(root, 'node_modules', '.cache', 'busi-examples');
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, 'run-'));
}

/** Bundles `entry` into `outFile` (default: a new file in {@link bundleDir}) and returns its path. */
export async function bundleFromSource(entry, outFile) {
  const out = outFile ?? path.join(bundleDir(), `${path.basename(entry, path.extname(entry))}.mjs`);
  await esbuild.build({
    entryPoints: [path.resolve(entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    alias: Object.fromEntries(PACKAGES.map((p) => [`@busi/${p}`, path.join(root, 'packages', p, 'src', 'index.ts')])),
    plugins: [
      {
        name: 'external-node-modules',
        setup(build) {
          // Everything that is not @busi/* or a relative path stays an import of node_modules.
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith('@busi/') || path.isAbsolute(args.path)) return undefined;
            return { path: args.path, external: true };
          });
        },
      },
    ],
    // The sources use `require` for optional packages; give the ESM bundle one.
    banner: { js: "import { createRequire as __busiCreateRequire } from 'node:module'; const require = __busiCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    console.error('usage: node examples/run-from-source.mjs <script> [args...]');
    process.exit(2);
  }
  const dir = bundleDir();
  try {
    const out = await bundleFromSource(entry, path.join(dir, 'bundle.mjs'));
    const r = spawnSync(process.execPath, [out, ...args], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
