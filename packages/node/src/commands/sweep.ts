import * as path from 'node:path';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { VIA_ENV, getBusiScript } from '../sweep/child';
import { RESULT_COLUMNS, collectSweep, resultsMarkdown, writeResults } from '../sweep/collect';
import { openSweep, prepareSweep, sweepTaskState, taskRunConfig, type Sweep } from '../sweep/folder';
import { describeOutcome, runTasks } from '../sweep/local-runner';
import { arraySlot, taskSlice, type SweepTask } from '../sweep/plan';
import { PAPER_SWEEP_DEFAULTS } from '../sweep/spec';
import { checkQueueUrl, enqueueSweep } from '../sweep/queue';
import { runTask, type TaskOutcome } from '../sweep/run-task';
import { stopSignal } from '../runs/stop-signal';
import { pluralize } from '@busi/core';

const ACTIONS = ['plan', 'run', 'enqueue', 'collect'] as const;

export const sweepCommand: Command = {
  name: 'sweep',
  positionals: 'plan|run|enqueue|collect',
  summary: 'Grids of trainings (models × λ × folds × seeds): plan, run locally or as cluster array tasks, enqueue for workers, collect',
  description: [
    "A sweep file (JSON or YAML) lists models, lambdas, folds, seeds and busi train's options (train, camelCase);",
    `what it leaves out is the paper's grid: the ${PAPER_SWEEP_DEFAULTS.models.length} models, λ ${PAPER_SWEEP_DEFAULTS.lambdas[0]}..${PAPER_SWEEP_DEFAULTS.lambdas.at(-1)}, one holdout split, seed ${PAPER_SWEEP_DEFAULTS.seeds[0]}, busi train's defaults.`,
    'It expands to an ordered task list; every task trains its own resumable run folder <out>/tasks/<task>/.',
    '  plan     print the task list (nothing is written)',
    '  run      run the tasks here (--jobs N processes), or one slice of them: --task-index I --task-count N,',
    '           or SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX with --task-count',
    '  enqueue  add the unfinished tasks to a BullMQ queue on Redis for `busi worker`',
    '  collect  the results table (Table 1 layout: mean ± sd over folds and seeds) as JSON, Markdown and',
    '           HTML, and the score-vs-λ plot (Fig. 2), in <out>/results/; lists missing and failed tasks',
    'Finished tasks are skipped, stopped or killed ones resume from their last checkpoint, failed ones are',
    'retried up to `retries` times (sweep file; default 2). See docs/sweeps.md.',
  ].join('\n'),
  options: {
    config: { type: 'string', short: 'c', valueName: 'FILE', description: 'Sweep file (.json, .yaml, .yml); default: the sweep.json in --out' },
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Sweep folder (required)' },
    jobs: { type: 'int', short: 'j', default: 1, min: 1, description: 'run: tasks at once (more than 1: one busi process per task)' },
    'task-index': { type: 'int', min: 0, valueName: 'I', description: 'run: this array task runs tasks I, I+N, I+2N, ... of the list' },
    'task-count': { type: 'int', min: 1, valueName: 'N', description: 'run: number of array tasks' },
    task: { type: 'string', valueName: 'ID', description: 'run: only this task' },
    'one-attempt': { type: 'boolean', description: 'run: one attempt, no retry (how busi runs a task in its own process)' },
    'retry-failed': { type: 'boolean', description: 'run, enqueue: also try tasks whose failures used up their retries' },
    queue: { type: 'string', valueName: 'URL', description: 'enqueue: Redis URL, e.g. redis://127.0.0.1:6379' },
    'queue-name': { type: 'string', valueName: 'NAME', description: 'enqueue: queue name (default busi-sweep-<sweep id>)' },
    json: { type: 'boolean', description: 'plan: print the task list as JSON' },
    plot: { type: 'string', default: 'overall', choices: RESULT_COLUMNS.map((c) => c.key), description: 'collect: score plotted against λ' },
  },
  run: runSweep,
};

async function runSweep(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  const action = positionals[0] as (typeof ACTIONS)[number] | undefined;
  if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
    throw new UsageError(`busi sweep: give one of ${ACTIONS.join(', ')}${positionals.length ? `; got '${positionals.join(' ')}'` : ''}`);
  }
  if (!v.out) throw new UsageError('busi sweep: --out <sweep folder> is required');
  const out = path.resolve(ctx.cwd, v.out as string);
  const sweep = openSweep(out, v.config === undefined ? undefined : path.resolve(ctx.cwd, v.config as string));
  if (action === 'plan') return plan(sweep, v, ctx);
  if (action === 'collect') {
    const results = collectSweep(sweep);
    const dir = await writeResults(sweep, results, v.plot as string);
    ctx.stdout.write(`${resultsMarkdown(results)}\nwrote table.json, table.md, table.html and score-vs-lambda.svg/.png to ${dir}\n`);
    return 0;
  }
  await prepareSweep(sweep, ctx);
  if (action === 'enqueue') {
    const url = checkQueueUrl(v.queue as string | undefined, 'sweep enqueue');
    const s = await enqueueSweep(sweep, sweep.tasks, { url, name: v['queue-name'] as string | undefined, retryFailed: !!v['retry-failed'] });
    ctx.stdout.write(
      `sweep ${sweep.id}: ${pluralize(s.added.length, 'task')} added, ${s.queued.length} already queued, ${s.skipped.length} finished earlier, ` +
        `${pluralize(s.retried.length, 'failed one')} put back, ${pluralize(s.failed.length, 'failed one')} left (--retry-failed puts them back)\n` +
        `start workers with: busi worker --queue ${url} --out ${out}\n`,
    );
    return 0;
  }
  return run(sweep, v, ctx);
}

function plan(sweep: Sweep, v: OptionValues, ctx: CliContext): number {
  const s = sweep.spec;
  for (const task of sweep.tasks) taskRunConfig(sweep, task, ctx);
  const rows = sweep.tasks.map((t) => ({ ...t, state: safeState(sweep, t) }));
  if (v.json) {
    ctx.stdout.write(`${JSON.stringify({ sweep: sweep.id, tasks: rows }, null, 2)}\n`);
    return 0;
  }
  ctx.stdout.write(
    `sweep ${sweep.id}: ${pluralize(rows.length, 'task')} = ${pluralize(s.models.length, 'model')} × ${s.lambdas.length} λ × ${pluralize(s.folds, 'fold')} × ${pluralize(s.seeds.length, 'seed')}; folder ${sweep.dir}\n`,
  );
  const w = Math.max(4, ...rows.map((r) => r.id.length));
  ctx.stdout.write(`${'#'.padStart(5)}  ${'task'.padEnd(w)}  state\n`);
  for (const r of rows) ctx.stdout.write(`${String(r.index).padStart(5)}  ${r.id.padEnd(w)}  ${r.state}\n`);
  return 0;
}

function safeState(sweep: Sweep, task: SweepTask): string {
  try {
    return sweepTaskState(sweep, task);
  } catch (e) {
    return `unusable: ${(e as Error).message}`;
  }
}

async function run(sweep: Sweep, v: OptionValues, ctx: CliContext): Promise<number> {
  let tasks: readonly SweepTask[] = sweep.tasks;
  let via = process.env[VIA_ENV] ?? 'local';
  const slot = arraySlot({ index: v['task-index'] as number | undefined, count: v['task-count'] as number | undefined });
  if (slot) {
    tasks = taskSlice(sweep.tasks, slot.index, slot.count);
    via = 'array';
    ctx.stdout.write(`array task ${slot.index} of ${slot.count} (${slot.source}): ${tasks.length} of ${pluralize(sweep.tasks.length, 'task')}\n`);
  }
  if (v.task !== undefined) {
    const task = tasks.find((t) => t.id === v.task);
    if (!task) throw new UsageError(`busi sweep run: --task '${String(v.task)}' is not a task of sweep ${sweep.id}${slot ? ' in this slice' : ''}; see busi sweep plan`);
    tasks = [task];
  }
  const stop = stopSignal(ctx);
  try {
    // A task process started by a busi parent stops (with a checkpoint) when its parent goes away.
    if (process.connected) process.once('disconnect', () => stop.abort());
    let outcomes: TaskOutcome[];
    if (v['one-attempt']) {
      if (tasks.length !== 1) throw new UsageError('busi sweep run: --one-attempt runs one task; give it with --task ID');
      const backend = await initBackend({ backend: sweep.spec.train.backend as BackendChoice | undefined, log: false });
      const o = await runTask(sweep, tasks[0], { via, backend: backend.backend, signal: stop.signal, retryFailed: !!v['retry-failed'] });
      ctx.stdout.write(`${describeOutcome(o)}\n`);
      if (process.send) await new Promise<void>((resolve) => process.send!(o, () => resolve()));
      outcomes = [o];
    } else {
      outcomes = await runTasks(sweep, tasks, { jobs: v.jobs as number, via, script: getBusiScript(), retryFailed: !!v['retry-failed'], signal: stop.signal, ctx });
    }
    const count = (k: TaskOutcome['outcome']) => outcomes.filter((o) => o.outcome === k).length;
    const bad = count('failed') + count('gave-up');
    if (tasks.length > 1) {
      ctx.stdout.write(
        `sweep ${sweep.id}: ${count('complete')} complete, ${count('skipped')} finished earlier, ${bad} failed, ` +
          `${tasks.length - outcomes.length + count('interrupted')} stopped of ${tasks.length}; busi sweep collect --out ${sweep.dir} makes the table\n`,
      );
    }
    if (stop.signal.aborted) return 130;
    return bad > 0 ? 1 : 0;
  } finally {
    stop.dispose();
  }
}
