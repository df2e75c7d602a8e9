/**
 * A small sweep run three ways, each in its own folder: locally (in this process), as 3 array tasks
 * (separate processes, by JOB_COMPLETION_INDEX), and through BullMQ on a throwaway Redis with two
 * workers, one of them SIGKILLed (with its task process) in the middle of a task. All three must
 * collect to the same table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Queue } from 'bullmq';
import { initBackend } from '@busi/kernels';
import { cli, readJson } from '../commands/helpers';
import { SMALL_SWEEP, bundleCli, bundleDir, hasRedis, startBusi, startRedis, waitFor } from './helpers';

let tmp: string;
let bundle: string;
let cliFile: string;
let config: string;
const tasks = () => fs.readdirSync(path.join(tmp, 'local', 'tasks')).sort();

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-sweep-'));
  config = path.join(tmp, 'sweep.json');
  fs.writeFileSync(config, JSON.stringify(SMALL_SWEEP));
  bundle = bundleDir();
  cliFile = bundleCli(bundle);
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(bundle, { recursive: true, force: true });
});

function attempts(sweepDir: string, task: string): { outcome: string; worker: string; resumedFrom: { epoch: number; batch: number } }[] {
  return readJson(path.join(sweepDir, 'attempts', `${task}.json`)).attempts;
}

async function collected(dir: string): Promise<any> {
  const r = await cli(['sweep', 'collect', '--out', dir], tmp);
  expect([r.code, r.err]).toEqual([0, '']);
  return readJson(path.join(dir, 'results', 'table.json'));
}

describe('busi sweep', () => {
  let reference: any;

  test('run (local, in this process) trains every task once, keeps tensors flat, skips finished tasks on a rerun, and collects Table 1', async () => {
    const out = path.join(tmp, 'local');
    const before = tf.memory().numTensors;
    const r = await cli(['sweep', 'run', '--config', config, '--out', out], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.out).toContain('4 complete, 0 finished earlier, 0 failed');
    expect(tasks()).toEqual([
      'unet__slim-resnet__lambda0.3__fold0__seed0',
      'unet__slim-resnet__lambda0.3__fold0__seed1',
      'unet__slim-resnet__lambda0.7__fold0__seed0',
      'unet__slim-resnet__lambda0.7__fold0__seed1',
    ]);
    for (const t of tasks()) {
      const run = path.join(out, 'tasks', t);
      const c = readJson(path.join(run, 'config.json'));
      expect([c.decoder, c.encoder, `lambda${c.lambda}`, `seed${c.seed}`, c.epochs]).toEqual([...t.split('__').filter((p) => !p.startsWith('fold')), 3]);
      expect(readJson(path.join(run, 'status.json'))).toMatchObject({ status: 'complete', epochsDone: 3 });
      expect(attempts(out, t).map((a) => a.outcome)).toEqual(['complete']);
    }
    const again = await cli(['sweep', 'run', '--config', config, '--out', out], tmp);
    expect(again.code).toBe(0);
    expect(again.out.match(/finished earlier; skipped/g)).toHaveLength(4);

    reference = await collected(out);
    expect(reference).toMatchObject({ tasks: 4, complete: 4, missing: [], failed: [] });
    expect(reference.rows.map((row: any) => [row.model, row.lambda, row.n, row.expected])).toEqual([
      ['unet + slim-resnet', 0.3, 2, 2],
      ['unet + slim-resnet', 0.7, 2, 2],
    ]);
    // Mean ± sample sd over the two seeds, from each task's evaluation.
    const acc = ['seed0', 'seed1'].map((s) => readJson(path.join(out, 'tasks', `unet__slim-resnet__lambda0.3__fold0__${s}`, 'evaluation', 'metrics.json')).classification.accuracy);
    expect(reference.rows[0].scores.accuracy.mean).toBeCloseTo((acc[0] + acc[1]) / 2, 12);
    expect(reference.rows[0].scores.accuracy.sd).toBeCloseTo(Math.abs(acc[0] - acc[1]) / Math.SQRT2, 12);
    const md = fs.readFileSync(path.join(out, 'results', 'table.md'), 'utf8');
    expect(md).toContain('| Model | λ | n | Accuracy (cla.) | F1 (cla.) | IoU (seg.) | Dice (seg.) | F1 (seg.) | Overall |');
    expect(fs.readFileSync(path.join(out, 'results', 'table.html'), 'utf8')).toContain('<th colspan="3">segmentation</th>');
    expect(fs.readFileSync(path.join(out, 'results', 'score-vs-lambda.svg'), 'utf8')).toContain('unet + slim-resnet');
    expect(fs.existsSync(path.join(out, 'results', 'score-vs-lambda.png'))).toBe(true);
  });

  test('run as 3 array tasks (separate processes, index from JOB_COMPLETION_INDEX) covers each task once and collects the same table', async () => {
    const out = path.join(tmp, 'array');
    const procs = [0, 1, 2].map((i) => startBusi(cliFile, ['sweep', 'run', '--config', config, '--out', out, '--task-count', '3'], { JOB_COMPLETION_INDEX: String(i) }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0]);
    expect(procs.map((p) => p.output().match(/^array task (\d) of 3 \(JOB_COMPLETION_INDEX\): (\d) of 4 tasks$/m)?.slice(1))).toEqual([['0', '2'], ['1', '1'], ['2', '1']]);
    for (const t of tasks()) expect(attempts(out, t).map((a) => a.outcome)).toEqual(['complete']);
    expect(await collected(out)).toEqual(reference);
  });

  const withRedis = hasRedis() ? test : test.skip;
  if (!hasRedis()) console.warn('busi sweep queue test skipped: redis-server is not installed (.ci/run installs it: apt-get install redis-server)');

  withRedis('enqueue + two workers, one SIGKILLed mid-task: its task is retried and resumed from its checkpoint, every task finishes once, collect matches the local run', async () => {
    const out = path.join(tmp, 'queue');
    const redis = await startRedis();
    try {
      const enq = await cli(['sweep', 'enqueue', '--config', config, '--out', out, '--queue', redis.url], tmp);
      expect([enq.code, enq.err]).toEqual([0, '']);
      expect(enq.out).toContain('4 tasks added');
      const again = await cli(['sweep', 'enqueue', '--config', config, '--out', out, '--queue', redis.url], tmp);
      expect(again.out).toContain('0 tasks added, 4 already queued');

      const worker = ['worker', '--queue', redis.url, '--out', out, '--lock-seconds', '2', '--exit-when-idle'];
      // Its own process group: killing it takes its task process too, as when a machine dies.
      const doomed = startBusi(cliFile, worker, {}, true);
      const victim = await waitFor('the first worker to start a task', 60_000, () => doomed.output().match(/^task (\S+): started/m)?.[1]);
      const survivor = startBusi(cliFile, worker);
      // Kill once the task has a checkpoint and is still training.
      await waitFor(`a checkpoint of ${victim}`, 60_000, () => {
        const run = path.join(out, 'tasks', victim);
        if (!fs.existsSync(path.join(run, 'checkpoint', 'trainer-state.json'))) return undefined;
        return readJson(path.join(run, 'status.json')).epochsDone < 3 ? true : undefined;
      });
      process.kill(-doomed.child.pid!, 'SIGKILL');
      expect(await doomed.exited).toBe('SIGKILL');
      expect(readJson(path.join(out, 'tasks', victim, 'status.json')).status).toBe('training');

      expect(await survivor.exited).toBe(0);
      const log = doomed.output() + survivor.output();
      for (const t of tasks()) {
        expect(log.match(new RegExp(`task ${t}: complete in`, 'g'))).toHaveLength(1);
        const a = attempts(out, t);
        if (t === victim) {
          expect(a.map((x) => x.outcome)).toEqual(['interrupted', 'complete']);
          expect(a[1].resumedFrom.epoch).toBeGreaterThanOrEqual(1);
          expect(a[1].worker).not.toBe(a[0].worker);
        } else expect(a.map((x) => x.outcome)).toEqual(['complete']);
      }
      expect(survivor.output()).toMatch(new RegExp(`task ${victim}: complete in \\S+ \\(resumed at epoch [23]\\)`));
      const sweepId = readJson(path.join(out, 'sweep.json')).id;
      const queue = new Queue(`busi-sweep-${sweepId}`, { connection: { url: redis.url } });
      try {
        expect(await queue.getJobCounts('completed', 'failed', 'waiting', 'active')).toEqual({ completed: 4, failed: 0, waiting: 0, active: 0 });
      } finally {
        await queue.close();
      }
      expect(await collected(out)).toEqual(reference);
    } finally {
      await redis.stop();
    }
  });
});
