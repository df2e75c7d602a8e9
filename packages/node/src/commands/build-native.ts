import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { nativeAddonPath, kernelsPackageRoot, resetNativeAddonCache } from '@busi/kernels';
import type { CliContext, Command, OptionValues } from '../cli/args';

export const buildNativeCommand: Command = {
  name: 'build-native',
  summary: 'Compile the optional native kernels (system BLAS on every core) for the wasm backend',
  description: [
    'Compiles the C sources in @busi/kernels/native/src with the system C compiler (CC, default cc) against',
    'OpenBLAS (BUSI_BLAS_LIBS to link another BLAS), for this machine\'s CPU. Afterwards initBackend()',
    'routes the wasm backend\'s convolutions, matmuls, batch norm and large elementwise ops through it',
    'whenever tfjs-node is absent. Needs a C compiler, node_api.h and a BLAS',
    '(Debian/Ubuntu: apt-get install build-essential libopenblas-dev). BUSI_NATIVE=0 turns it off.',
  ].join('\n'),
  options: {
    out: { type: 'string', short: 'o', valueName: 'FILE', description: 'Where to write the addon (default: inside @busi/kernels; load it with BUSI_NATIVE_PATH)' },
    'if-possible': { type: 'boolean', description: 'Report a missing toolchain and exit 0 instead of failing' },
  },
  run: runBuildNative,
};

async function runBuildNative(v: OptionValues, _positionals: string[], ctx: CliContext): Promise<number> {
  const script = path.join(kernelsPackageRoot(), 'native', 'build.mjs');
  if (!existsSync(script)) throw new Error(`the native sources are missing from this install (no ${script})`);
  const args = [script];
  if (v['if-possible']) args.push('--if-possible');
  if (v.out) args.push('--out', path.resolve(ctx.cwd, String(v.out)));
  const code = await new Promise<number>((resolve, reject) => {
    // The environment explicitly: CC, BUSI_BLAS_LIBS and friends as this process sees them.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    child.stdout.on('data', (d: Buffer) => ctx.stdout.write(d));
    child.stderr.on('data', (d: Buffer) => ctx.stderr.write(d));
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  resetNativeAddonCache();
  if (code === 0 && v.out && path.resolve(ctx.cwd, String(v.out)) !== nativeAddonPath()) {
    ctx.stdout.write(`busi native: set BUSI_NATIVE_PATH=${path.resolve(ctx.cwd, String(v.out))} to use it\n`);
  }
  return code;
}
