import { packageBuild } from '../../tsup.base';

export default packageBuild({
  // parallel-worker: the compiled worker thread entry that createDataParallel starts.
  entry: { index: 'src/index.ts', 'parity-cli': 'src/parity-cli.ts', cli: 'src/cli.ts', 'parallel-worker': 'src/parallel/worker.ts' },
  // __dirname in the ESM build (createDataParallel finds parallel-worker.cjs next to itself).
  shims: true,
});
