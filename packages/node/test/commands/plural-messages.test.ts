import * as fs from 'node:fs';
import * as path from 'node:path';
import { nounForm, pluralize } from '@busi/core';
import { cli, trainSmallRun } from './helpers';

// Counts in messages agree with their noun: "1 epoch", "2 epochs" (issue 12: "trained 1 epochs", "wrote 1 masks").

/** A count of 1 followed by a plural noun, e.g. "1 epochs" or "1 gallery images" (not "1 of 3 images"). */
const ONE_PLURAL = /(^|[^\d.])1 (gallery )?(epochs|images|masks|overlays|charts|folds|tasks|runs|steps|batches)\b/m;

let tmp: string;
let run: string;
beforeAll(async () => {
  let out: string;
  ({ tmp, run, out } = await trainSmallRun('plural', 'run', ['--epochs', '1', '--no-report', '--val-fraction', '0.2']));
  expect(out).toMatch(/trained 1 epoch; best /);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('pluralize: the noun agrees with the count; irregular plurals are given', () => {
  expect([pluralize(1, 'epoch'), pluralize(0, 'epoch'), pluralize(2, 'epoch')]).toEqual(['1 epoch', '0 epochs', '2 epochs']);
  expect([pluralize(1, 'batch', 'batches'), pluralize(3, 'batch', 'batches')]).toEqual(['1 batch', '3 batches']);
  expect([nounForm(1, 'was', 'were'), nounForm(2, 'was', 'were')]).toEqual(['was', 'were']);
});

test('busi train --resume and busi evaluate print one epoch and one gallery image in the singular, more in the plural', async () => {
  const outputs: string[] = [];
  const say = async (argv: string[]) => {
    const r = await cli(argv, tmp);
    expect([r.code, r.err]).toEqual([0, '']);
    outputs.push(r.out);
    return r.out;
  };
  expect(await say(['train', '--resume', '--no-report', '-o', run])).toContain(`run '${run}' is complete (1 epoch); pass --epochs N to train further`);
  expect(await say(['evaluate', '--model', run, '--gallery', '1'])).toMatch(/, \d+ charts and 1 gallery image to /);

  const extended = await say(['train', '--resume', '--epochs', '2', '--no-report', '-o', run]);
  expect(extended).toContain('extending the run from 1 to 2 epochs');
  expect(extended).toMatch(/trained 2 epochs; best /);
  expect(await say(['train', '--resume', '--no-report', '-o', run])).toContain(`run '${run}' is complete (2 epochs); pass --epochs N`);
  expect(await say(['evaluate', '--model', run, '--gallery', '2'])).toMatch(/, \d+ charts and 2 gallery images to /);

  for (const out of outputs) expect(out).not.toMatch(ONE_PLURAL);
});
