import * as path from 'node:path';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { getBusiScript } from '../sweep/child';
import { openSweep } from '../sweep/folder';
import { checkQueueUrl, runWorker } from '../sweep/queue';
import { stopSignal } from '../runs/stop-signal';
import { pluralize } from '@busi/core';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run the tasks of a sweep from its BullMQ queue on Redis (start any number, on any machine)',
  description: [
    '--out is the sweep folder on storage every worker sees (it holds the sweep.json `busi sweep enqueue` wrote).',
    'Each task runs in its own busi process; a task whose worker dies goes back to the queue once its lock',
    '(--lock-seconds) runs out, and the next worker resumes it from its last checkpoint. A failed task is',
    "retried until the sweep's retries are used up. SIGINT/SIGTERM: running tasks checkpoint and go back to the queue.",
  ].join('\n'),
  options: {
    queue: { type: 'string', valueName: 'URL', description: 'Redis URL, e.g. redis://127.0.0.1:6379 (required)' },
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'Sweep folder (required)' },
    'queue-name': { type: 'string', valueName: 'NAME', description: 'Queue name (default busi-sweep-<sweep id>)' },
    concurrency: { type: 'int', default: 1, min: 1, description: 'Tasks at once' },
    'lock-seconds': { type: 'number', default: 30, min: 1, description: "Seconds before a dead worker's task goes back to the queue" },
    'exit-when-idle': { type: 'boolean', description: 'Exit once the queue holds no waiting, delayed or running task' },
  },
  run: runWorkerCommand,
};

async function runWorkerCommand(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi worker: unexpected argument '${positionals[0]}'`);
  const url = checkQueueUrl(v.queue as string | undefined, 'worker');
  if (!v.out) throw new UsageError('busi worker: --out <sweep folder> is required');
  const sweep = openSweep(path.resolve(ctx.cwd, v.out as string));
  const stop = stopSignal(ctx);
  try {
    const { outcomes } = await runWorker(sweep, {
      url,
      name: v['queue-name'] as string | undefined,
      concurrency: v.concurrency as number,
      lockSeconds: v['lock-seconds'] as number,
      exitWhenIdle: !!v['exit-when-idle'],
      script: getBusiScript(),
      signal: stop.signal,
      ctx,
    });
    ctx.stdout.write(`worker: ${pluralize(outcomes.filter((o) => o.outcome === 'complete').length, 'task')} completed, ${pluralize(outcomes.filter((o) => o.outcome === 'failed').length, 'attempt')} failed\n`);
    return stop.signal.aborted ? 130 : 0;
  } finally {
    stop.dispose();
  }
}
