import { initBackend } from '@busi/kernels';
import { formatCounts, fuzzModelFolder, fuzzSafetensors, fuzzStateDict, type FuzzCounts } from './fuzz-cases';

// The seeded 500-case subset of `npm run fuzz` (which runs 10,000+ cases per reader): every
// mutated file ends in a clean error or a consistent result.
beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: false });
});

function expectClean(c: FuzzCounts): void {
  process.stdout.write(`${formatCounts(c)}\n`);
  expect(c.cases).toBe(500);
  expect(c.examples).toEqual([]);
  expect([c.crashes, c.hangs, c.pollution, c.leaks]).toEqual([0, 0, 0, 0]);
  // The mutations must reach the error paths, not only produce valid files.
  expect(c.cleanErrors).toBeGreaterThan(250);
}

test('safetensors reader: 500 seeded mutations', async () => {
  expectClean(await fuzzSafetensors(500, 11));
});

test('state-dict loader: 500 seeded mutations', async () => {
  expectClean(await fuzzStateDict(500, 12));
});

test('model folder loader: 500 seeded mutations', async () => {
  expectClean(await fuzzModelFolder(500, 13));
});

// The 9 cases of `npm run fuzz` (seed 1, 10,000 cases) that once ended in a tfjs internals message
// (a renamed config field, a missing inbound_nodes, an output tensor index of 2^31); replayed by
// number, the other cases generated but not loaded.
const ONCE_UNCLEAR = [1508, 2381, 3786, 4478, 5701, 6681, 7447, 8001, 9855];
test('model folder loader: the seed-1 cases that once gave tfjs internals messages are clear errors', async () => {
  const c = await fuzzModelFolder(10000, 1, { only: ONCE_UNCLEAR });
  process.stdout.write(`${formatCounts(c)}\n`);
  expect(c.examples).toEqual([]);
  expect([c.cases, c.cleanErrors]).toEqual([ONCE_UNCLEAR.length, ONCE_UNCLEAR.length]);
});
