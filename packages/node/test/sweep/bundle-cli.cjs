// Bundles the busi command line from the TypeScript sources into one CommonJS file (argv[2]):
// @busi/<name> from packages/<name>/src, everything else (subpaths included) left to node_modules. Tests run the bundle
// as separate processes (to kill them). Usage: node bundle-cli.cjs OUT_FILE
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..', '..', '..', '..');
const { workspaces } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const sources = new Map(workspaces.map((w) => [`@busi/${path.basename(w)}`, path.join(root, w, 'src', 'index.ts')]));

esbuild
  .build({
    entryPoints: [path.join(root, 'packages', 'node', 'src', 'cli.ts')],
    outfile: process.argv[2],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'external-node-modules',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            if (sources.has(args.path)) return { path: sources.get(args.path) };
            return path.isAbsolute(args.path) ? undefined : { path: args.path, external: true };
          });
        },
      },
    ],
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
