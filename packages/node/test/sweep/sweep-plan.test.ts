/** Sweep files, the task list and its slices, and failures: recorded with their error, retried a bounded number of times. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '@busi/kernels';
import { arraySlot, expandSweep, taskSlice } from '../../src/sweep/plan';
import { PAPER_SWEEP_DEFAULTS, parseSweepSpec, readSweepFile } from '../../src/sweep/spec';
import { parseCommandArgs } from '../../src/cli/args';
import { gridLambdaCommand } from '../../src/commands/grid-lambda';
import { runConfigFromOptions } from '../../src/runs/run-options';
import { taskDir, taskRunConfig } from '../../src/sweep/folder';
import { LAMBDA_GRID_LAYOUT, lambdaGridSweep } from '../../src/sweep/lambda-grid';
import { cli, readJson } from '../commands/helpers';
import { SMALL_SWEEP } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-sweep-plan-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const spec = (raw: unknown) => parseSweepSpec(raw, 'sweep file x', tmp);

describe('sweep files', () => {
  test('JSON and YAML give the same spec; what the file leaves out is the paper grid', () => {
    fs.writeFileSync(path.join(tmp, 'a.json'), JSON.stringify({ train: { synthetic: 16 } }));
    fs.writeFileSync(path.join(tmp, 'a.yaml'), 'train:\n  synthetic: 16\n');
    const a = readSweepFile(path.join(tmp, 'a.json'));
    expect(readSweepFile(path.join(tmp, 'a.yaml'))).toEqual(a);
    expect(a.models).toHaveLength(16);
    expect(a.lambdas).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect([a.folds, a.seeds, a.retries]).toEqual([PAPER_SWEEP_DEFAULTS.folds, [42], 2]);
    expect(expandSweep(a)).toHaveLength(16 * 9);
  });

  test('bad files are refused with the key and what was expected', () => {
    const cases: [unknown, string][] = [
      [{ train: { synthetic: 16 }, lamdas: [0.5] }, "unknown key 'lamdas'"],
      [{ train: { synthetic: 16, lambda: 0.5 } }, "train.lambda is set per task by the sweep's lambdas list"],
      [{ train: { synthetic: 16, size: '64' } }, 'train.size must be a number; got "64"'],
      [{ train: { synthetic: 16, size: 8 } }, 'train.size must be in [16, 2048]; got 8'],
      [{ train: { synthetic: 16, epoch: 2 } }, 'train.epoch is not a busi train option'],
      [{ train: { synthetic: 16 }, lambdas: [0.5, 0.5] }, 'lambdas has a repeated value'],
      [{ train: { synthetic: 16 }, lambdas: [1.5] }, 'lambdas must be a non-empty list of numbers in [0, 1]'],
      [{ train: {} }, 'train.data (a BUSI folder) or train.synthetic (a number of images) is required'],
      [{ train: { synthetic: 16 }, models: [['unet']] }, 'models[0] must be a [decoder, encoder] pair'],
    ];
    for (const [raw, message] of cases) expect(() => spec(raw)).toThrow(message);
  });

  test('the task list is ordered models, λ, folds, seeds; slices by index are disjoint and cover it', () => {
    const tasks = expandSweep(spec({ models: [['unet', 'resnet18'], ['fpn', 'resnet18']], lambdas: [0.3, 0.7], folds: 2, seeds: [0, 1], train: { synthetic: 16 } }));
    expect(tasks).toHaveLength(16);
    expect(tasks.slice(0, 3).map((t) => t.id)).toEqual(['unet__resnet18__lambda0.3__fold0__seed0', 'unet__resnet18__lambda0.3__fold0__seed1', 'unet__resnet18__lambda0.3__fold1__seed0']);
    expect(tasks.map((t) => t.index)).toEqual([...tasks.keys()]);
    const slices = [0, 1, 2].map((i) => taskSlice(tasks, i, 3).map((t) => t.index));
    expect(slices.flat().sort((a, b) => a - b)).toEqual([...tasks.keys()]);
    expect(slices[1]).toEqual([1, 4, 7, 10, 13]);
    expect(() => taskSlice(tasks, 3, 3)).toThrow('--task-index must be an integer in [0, 2]; got 3');
  });

  test("busi grid-lambda's preset: a task per λ in lambda-<λ>/, each trained with the command's configuration at its λ", () => {
    const ctx = { stdout: process.stdout, stderr: process.stderr, cwd: tmp };
    fs.writeFileSync(path.join(tmp, 'split.json'), '{}');
    const argv = ['-o', 'grid', '--synthetic', '24', '--encoder', 'slim-resnet', '--size', '32', '--seed', '7', '--lr', '0.003', '--split-file', 'split.json', '--fold', '2', '--no-augment'];
    const { values } = parseCommandArgs(gridLambdaCommand, argv);
    const base = runConfigFromOptions(values, ctx, 'grid-lambda');
    const sweep = lambdaGridSweep(path.join(tmp, 'grid'), [0.8, 0.2], values, base);
    expect(sweep.layout).toBe(LAMBDA_GRID_LAYOUT);
    expect(sweep.tasks.map((t) => [t.lambda, path.relative(tmp, taskDir(sweep, t))])).toEqual([[0.8, path.join('grid', 'lambda-0.8')], [0.2, path.join('grid', 'lambda-0.2')]]);
    expect(sweep.spec).toMatchObject({ models: [{ decoder: 'unet', encoder: 'slim-resnet' }], folds: 1, seeds: [7], dataSeed: 7, retries: 0 });
    for (const task of sweep.tasks) {
      const { created: _a, ...got } = taskRunConfig(sweep, task, ctx);
      const { created: _b, ...want } = { ...base, lambda: task.lambda };
      expect(got).toEqual(want);
    }
  });

  test('the array slot comes from the options, Slurm or a Kubernetes Indexed Job', () => {
    expect(arraySlot({}, {})).toBeNull();
    expect(arraySlot({ index: 1, count: 4 }, { SLURM_ARRAY_TASK_ID: '3' })).toEqual({ index: 1, count: 4, source: 'options' });
    expect(arraySlot({}, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })).toEqual({ index: 3, count: 4, source: 'SLURM_ARRAY_TASK_ID' });
    expect(arraySlot({ count: 3 }, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 3, source: 'JOB_COMPLETION_INDEX' });
    expect(() => arraySlot({}, { JOB_COMPLETION_INDEX: '2' })).toThrow('give the number of array tasks with --task-count N');
  });

  test('plan prints the list and writes nothing; a folder of another sweep is refused naming the difference', async () => {
    const file = path.join(tmp, 'small.json');
    fs.writeFileSync(file, JSON.stringify(SMALL_SWEEP));
    const out = path.join(tmp, 'plan');
    const r = await cli(['sweep', 'plan', '--config', file, '--out', out], tmp);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sweep \w{12}: 4 tasks = 1 model × 2 λ × 1 fold × 2 seeds/);
    expect(r.out).toContain('    3  unet__slim-resnet__lambda0.7__fold0__seed1  new');
    expect(fs.existsSync(out)).toBe(false);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'sweep.json'), JSON.stringify({ format: 'busi-sweep', version: 1, id: 'other', spec: { ...readSweepFile(file), lambdas: [0.5] } }));
    const refused = await cli(['sweep', 'run', '--config', file, '--out', out], tmp);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('lambdas was [0.5], now [0.3,0.7]');
  });
});

describe('failed tasks', () => {
  test('are recorded with their error, retried `retries` times, then skipped until --retry-failed; collect lists them', async () => {
    const weights = path.join(tmp, 'broken.safetensors');
    fs.writeFileSync(weights, 'not a safetensors file');
    const file = path.join(tmp, 'failing.json');
    fs.writeFileSync(file, JSON.stringify({ ...SMALL_SWEEP, lambdas: [0.5], seeds: [0], retries: 1, train: { ...SMALL_SWEEP.train, encoderWeights: weights } }));
    const out = path.join(tmp, 'failing');
    const task = 'unet__slim-resnet__lambda0.5__fold0__seed0';
    const r = await cli(['sweep', 'run', '--config', file, '--out', out], tmp);
    expect(r.code).toBe(1);
    expect(r.out.match(/attempt \d failed: /g)).toHaveLength(2);
    const attempts = readJson(path.join(out, 'attempts', `${task}.json`)).attempts;
    expect(attempts.map((a: any) => [a.attempt, a.outcome])).toEqual([[1, 'failed'], [2, 'failed']]);
    expect(attempts[0].error).toContain(weights);

    const again = await cli(['sweep', 'run', '--out', out], tmp);
    expect(again.code).toBe(1);
    expect(again.out).toContain(`task ${task}: not tried: its failures used up the retries`);
    expect(readJson(path.join(out, 'attempts', `${task}.json`)).attempts).toHaveLength(2);

    const retried = await cli(['sweep', 'run', '--out', out, '--retry-failed'], tmp);
    expect(retried.code).toBe(1);
    expect(readJson(path.join(out, 'attempts', `${task}.json`)).attempts).toHaveLength(4);

    const c = await cli(['sweep', 'collect', '--out', out], tmp);
    expect(c.code).toBe(0);
    const table = readJson(path.join(out, 'results', 'table.json'));
    expect(table).toMatchObject({ tasks: 1, complete: 0, missing: [], failed: [{ task, failures: 4 }] });
    expect(table.failed[0].error).toContain(weights);
    expect(c.out).toContain(`- ${task}: failed 4×:`);
  });
});
