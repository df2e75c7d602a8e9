import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCli } from './kill-campaign';

// Issue 11 item 17 with a real signal: the first Ctrl-C (SIGINT to the CLI process) must stop
// within the batch in progress and save a checkpoint there, not run on to the end of the epoch.
// The epoch is made long (33 batches) so that "stopped at an epoch end" would show as
// batchInEpoch 0 with the whole epoch's time spent after the signal.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-ctrl-c-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('SIGINT during an epoch stops after the current batch, saves a mid-epoch checkpoint, and --resume finishes', async () => {
  const run = path.join(tmp, 'run');
  const args = [
    'train', '-o', run, '--synthetic', '96', '--encoder', 'slim-resnet', '--decoder-channels', '16,16,8,8,8', '--size', '32',
    '--batch-size', '2', '--epochs', '3', '--backend', 'wasm', '--no-report',
  ];
  const p = startCli(args);
  // Training has begun once the first epoch's batches run: wait for the run folder, then a little.
  while (!fs.existsSync(path.join(run, 'status.json'))) {
    if (p.child.exitCode !== null) throw new Error(`busi train ended before training started:\n${p.output()}`);
    await sleep(20);
  }
  await sleep(1500);
  expect(p.child.exitCode).toBeNull();
  const sentAt = Date.now();
  p.child.kill('SIGINT');
  const code = await p.done;
  const stopMs = Date.now() - sentAt;
  const out = p.output();
  expect(code).toBe(130);
  expect(out).toContain('stopping after this batch and saving a checkpoint');
  expect(out).toMatch(/interrupted in epoch \d+ after batch \d+; checkpoint saved/);
  expect(readJson(path.join(run, 'status.json')).status).toBe('stopped');
  const state = readJson(path.join(run, 'checkpoint', 'trainer-state.json'));
  // Mid-epoch: an end-of-epoch stop would have batchInEpoch 0.
  expect(state.batchInEpoch).toBeGreaterThan(0);
  expect(state.batchInEpoch).toBeLessThan(33);
  process.stdout.write(`ctrl-c test: stopped in epoch ${state.epoch + 1} after batch ${state.batchInEpoch}, exit ${stopMs} ms after SIGINT\n`);

  const r = startCli(['train', '-o', run, '--resume', '--backend', 'wasm', '--quiet', '--no-report']);
  expect(await r.done).toBe(0);
  expect(readJson(path.join(run, 'status.json'))).toMatchObject({ status: 'complete', epochsDone: 3 });
}, 300_000);
