// npm run fuzz [-- --cases N --seed S]: the seeded fuzzers of the three untrusted-file readers,
// 10,000 cases each by default; prints clean errors / accepted / crashes / hangs / pollution /
// leaks per reader and exits 1 if any crash, hang, pollution or leak was seen.
import { initBackend } from '@busi/kernels';
import { formatCounts, fuzzModelFolder, fuzzSafetensors, fuzzStateDict } from '../../packages/node/test/reliability/fuzz-cases';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const cases = arg('cases', 10000);
  const seed = arg('seed', 1);
  await initBackend({ backend: 'cpu', log: false });
  let bad = 0;
  for (const fuzz of [fuzzSafetensors, fuzzStateDict, fuzzModelFolder]) {
    const t0 = Date.now();
    const c = await fuzz(cases, seed);
    console.log(`${formatCounts(c)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    bad += c.crashes + c.hangs + c.pollution + c.leaks;
  }
  process.exitCode = bad > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
