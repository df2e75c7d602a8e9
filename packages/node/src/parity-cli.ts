/**
 * `npm run parity -- [dir] [options]`: the parity harness over a fixtures directory, one line per
 * model; exits 1 when any model fails or errors (skipped models do not fail the run).
 */
import * as fs from 'node:fs';
import { initBackend } from '@busi/kernels';
import { parseParityArgs, runParityDir, type ParityCliArgs } from './parity/run-parity';
import { pluralize } from '@busi/core';

async function main(): Promise<number> {
  let args: ParityCliArgs;
  try {
    args = parseParityArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const backend = await initBackend({ backend: args.backend, log: false });
  console.log(`${backend.summary}${backend.trainingKernels ? '' : ' (no gradient kernels)'}`);
  const started = Date.now();
  const results = await runParityDir(args.dir, {
    only: args.only,
    gradients: args.gradients && args.train,
    train: args.train,
    encoder: args.encoder,
    strictNoise: args.strictNoise,
    readmeTolerances: args.readmeTolerances,
    onResult: (r) => console.log(r.line),
    onProgress: args.verbose ? (m) => console.error(`  ${m}`) : undefined,
  });
  const count = (s: string) => results.filter((r) => r.status === s).length;
  console.log(
    `parity: ${count('pass')} passed, ${count('fail')} failed, ${pluralize(count('error'), 'error')}, ${count('skipped')} skipped ` +
      `(${((Date.now() - started) / 1000).toFixed(0)}s, backend ${backend.backend})`,
  );
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify({ backend: backend.backend, adapter: backend.adapter, results }, (_k, v) => (v === Infinity ? 'Infinity' : v), 1));
  }
  if (results.length === 0) {
    console.error(`parity: no fixtures matched in ${args.dir}`);
    return 1;
  }
  return count('fail') + count('error') > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
