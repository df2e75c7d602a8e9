import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@busi/kernels';
import { readPng } from '@busi/data';
import { SMALL_RUN, cli, ls, readJson, treeHash } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-grid-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('busi grid-lambda', () => {
  test('trains one run per λ and writes the table (JSON, markdown) and the plot (SVG, PNG); --resume keeps finished runs', async () => {
    const out = path.join(tmp, 'grid');
    const before = tf.memory().numTensors;
    const r = await cli(['grid-lambda', '-o', out, '--lambdas', '0.2,0.8', ...SMALL_RUN, '--epochs', '1'], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(ls(out)).toEqual(['lambda-0.2', 'lambda-0.8', 'lambda-scores.png', 'lambda-scores.svg', 'lambda.json', 'lambda.md']);
    const table = readJson(path.join(out, 'lambda.json'));
    expect(table.rows.map((x: { lambda: number }) => x.lambda)).toEqual([0.2, 0.8]);
    for (const row of table.rows) {
      const run = path.join(out, row.run);
      expect(readJson(path.join(run, 'config.json')).lambda).toBe(row.lambda);
      const best = readJson(path.join(run, 'metrics.json')).best;
      expect(row.scores.val_dice).toBe(best.val_dice);
      expect(row.scores.val_accuracy).toBe(best.val_accuracy);
    }
    // Same split for every λ.
    expect(readJson(path.join(out, 'lambda-0.2', 'split.json'))).toEqual(readJson(path.join(out, 'lambda-0.8', 'split.json')));
    const md = fs.readFileSync(path.join(out, 'lambda.md'), 'utf8');
    expect(md).toContain(`| 0.2 | ${table.rows[0].scores.val_dice.toFixed(4)} |`);
    expect(fs.readFileSync(path.join(out, 'lambda-scores.svg'), 'utf8')).toContain('Validation scores against λ');
    expect((await readPng(path.join(out, 'lambda-scores.png'))).width).toBe(560);

    const refused = await cli(['grid-lambda', '-o', out, '--lambdas', '0.2,0.8', ...SMALL_RUN], tmp);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('pass --force to replace it or --resume to continue it');
    const again = await cli(['grid-lambda', '-o', out, '--lambdas', '0.2,0.8', ...SMALL_RUN, '--epochs', '1', '--resume'], tmp);
    expect(again.code).toBe(0);
    expect(again.out.match(/finished earlier; kept/g)).toHaveLength(2);
    // Each λ is a task of the sweep engine: one attempt recorded per λ, none by the skipping rerun.
    const attempts = (l: number) => readJson(path.join(out, '.sweep', 'attempts', `unet__slim-resnet__lambda${l}__fold0__seed42.json`)).attempts;
    expect([attempts(0.2), attempts(0.8)].map((a) => a.map((x: { outcome: string }) => x.outcome))).toEqual([['complete'], ['complete']]);
    // --force retrains the λ it is given (a second attempt) and leaves the other run as it was.
    const kept = treeHash(path.join(out, 'lambda-0.2'));
    const forced = await cli(['grid-lambda', '-o', out, '--lambdas', '0.8', ...SMALL_RUN, '--epochs', '1', '--force'], tmp);
    expect([forced.code, forced.err]).toEqual([0, '']);
    expect(attempts(0.8).map((x: { outcome: string }) => x.outcome)).toEqual(['complete', 'complete']);
    expect(treeHash(path.join(out, 'lambda-0.2'))).toEqual(kept);
    expect(readJson(path.join(out, 'lambda.json')).rows.map((x: { lambda: number }) => x.lambda)).toEqual([0.8]);
    const bad = await cli(['grid-lambda', '-o', path.join(tmp, 'g2'), '--lambdas', '0.2,x', ...SMALL_RUN], tmp);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining("--lambdas must be numbers in [0, 1] separated by commas, e.g. 0.1,0.5,0.9; got '0.2,x'")]);
  });
});
