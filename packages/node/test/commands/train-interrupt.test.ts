import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { parseCommandArgs } from '../../src/cli/args';
import { runConfigFromOptions } from '../../src/runs/run-options';
import { trainCommand } from '../../src/commands/train';
import { fileSystem } from '@busi/data';
import { parseHistoryCsv } from '../../src/runs/run-folder';
import { trainRun } from '../../src/runs/train-run';
import { Capture, SMALL_RUN, cli, readJson } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-interrupt-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ctx = () => ({ stdout: new Capture(), stderr: new Capture(), cwd: tmp });
const config = () => runConfigFromOptions(parseCommandArgs(trainCommand, [...SMALL_RUN, '--epochs', '2', '--micro-batch', '2']).values, ctx(), 'train');

async function weights(dir: string): Promise<number[][]> {
  const m = await MultiTaskModel.load(fileSystem(dir));
  const w = m.model.getWeights().map((t) => Array.from(t.dataSync()));
  m.dispose();
  return w;
}

describe('busi train interrupted mid-epoch', () => {
  test('tensor count is flat across steps and epochs; an abort checkpoints mid-epoch and --resume finishes identically', async () => {
    const full = path.join(tmp, 'full');
    const atBatch: number[] = [];
    const atEpoch: number[] = [];
    const c = ctx();
    await trainRun(config(), full, { backend: 'wasm', quiet: true, onBatchEnd: () => atBatch.push(tf.memory().numTensors), onEpochEnd: () => atEpoch.push(tf.memory().numTensors) }, c);
    expect(c.stderr.text).toBe('');
    expect(atBatch.length).toBeGreaterThanOrEqual(8);
    expect(new Set(atBatch).size).toBe(1);
    expect(atEpoch).toEqual([atEpoch[0], atEpoch[0]]);

    // Abort after the 2nd batch of epoch 2 (as the first Ctrl-C does).
    const part = path.join(tmp, 'part');
    const abort = new AbortController();
    const p = ctx();
    const r = await trainRun(config(), part, {
      backend: 'wasm',
      quiet: true,
      signal: abort.signal,
      onBatchEnd: (epoch, batch) => {
        if (epoch === 1 && batch === 1) abort.abort();
      },
    }, p);
    expect(r.status).toMatchObject({ status: 'stopped', epochsDone: 1 });
    expect(p.stdout.text).toContain('interrupted in epoch 2 after batch 2; checkpoint saved');
    expect(readJson(path.join(part, 'checkpoint', 'trainer-state.json'))).toMatchObject({ epoch: 1, batchInEpoch: 2 });
    const resumed = await cli(['train', '-o', part, '--resume', '--backend', 'wasm', '--quiet', '--no-report'], tmp);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(readJson(path.join(part, 'status.json'))).toMatchObject({ status: 'complete', epochsDone: 2 });
    const [h1, h2] = [full, part].map((d) => parseHistoryCsv(fs.readFileSync(path.join(d, 'history.csv'), 'utf8')));
    for (const k of ['loss', 'val_loss', 'val_dice', 'val_accuracy']) expect(h2[k]).toEqual(h1[k]);
    expect(await weights(path.join(part, 'last-model'))).toEqual(await weights(path.join(full, 'last-model')));
  });
});
