import { createHash } from 'node:crypto';
import { UsageError } from '../cli/args';
import type { SweepSpec } from './spec';

/** One training of a sweep. */
export interface SweepTask {
  /** Position in the sweep's ordered task list (0-based). */
  index: number;
  /** Stable name, also the task's run folder under `<sweep>/tasks/`. */
  id: string;
  /** Decoder registry name. */
  decoder: string;
  /** Encoder registry name. */
  encoder: string;
  /** Segmentation weight λ of the loss. */
  lambda: number;
  /** Fold of the k-fold split (0 when the sweep has one holdout split). */
  fold: number;
  /** Seed of initialisation, shuffling, augmentation and dropout (and of the holdout split when folds is 1). */
  seed: number;
}

/**
 * The ordered task list of a sweep: models (outermost, in file order), then λ, folds and seeds.
 * The same spec always gives the same list, so an index means the same task on every machine.
 */
export function expandSweep(spec: SweepSpec): SweepTask[] {
  const tasks: SweepTask[] = [];
  for (const m of spec.models) {
    for (const lambda of spec.lambdas) {
      for (let fold = 0; fold < spec.folds; fold++) {
        for (const seed of spec.seeds) {
          const id = `${m.decoder}__${m.encoder}__lambda${lambda}__fold${fold}__seed${seed}`;
          tasks.push({ index: tasks.length, id, decoder: m.decoder, encoder: m.encoder, lambda, fold, seed });
        }
      }
    }
  }
  return tasks;
}

/** The model of a task as shown in tables: `decoder + encoder`. */
export function modelLabel(t: Pick<SweepTask, 'decoder' | 'encoder'>): string {
  return `${t.decoder} + ${t.encoder}`;
}

/** A short content hash of the spec: two sweep folders with the same id hold the same task list. */
export function sweepId(spec: SweepSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 12);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Slice `index` of `count` of a task list: every count-th task starting at `index`, so slices mix
 * models (and costs) rather than giving one slice all of one model.
 */
export function taskSlice(tasks: readonly SweepTask[], index: number, count: number): SweepTask[] {
  if (!(Number.isInteger(count) && count >= 1)) throw new UsageError(`busi sweep: --task-count must be an integer >= 1; got ${count}`);
  if (!(Number.isInteger(index) && index >= 0 && index < count)) throw new UsageError(`busi sweep: --task-index must be an integer in [0, ${count - 1}]; got ${index}`);
  return tasks.filter((t) => t.index % count === index);
}

/** Where a cluster array task's index and count came from. */
export interface ArraySlot {
  /** This process's slot (0-based, below `count`). */
  index: number;
  /** Array tasks sharing the sweep. */
  count: number;
  /** 'options', 'SLURM_ARRAY_TASK_ID' or 'JOB_COMPLETION_INDEX'. */
  source: string;
}

/**
 * The array slot of this process: `--task-index/--task-count`, else Slurm's `SLURM_ARRAY_TASK_ID`
 * (count from `--task-count` or `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes Indexed Job's
 * `JOB_COMPLETION_INDEX` (count from `--task-count`; Kubernetes does not export it). Null when none applies.
 */
export function arraySlot(options: { index?: number; count?: number }, env: NodeJS.ProcessEnv = process.env): ArraySlot | null {
  const fromEnv = (name: string): number => {
    const raw = env[name]!;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`busi sweep: ${name} must be an integer >= 0; got '${raw}'`);
    return n;
  };
  let index = options.index;
  let source = 'options';
  let count = options.count;
  if (index === undefined && env.SLURM_ARRAY_TASK_ID !== undefined) {
    index = fromEnv('SLURM_ARRAY_TASK_ID');
    source = 'SLURM_ARRAY_TASK_ID';
    if (count === undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) count = fromEnv('SLURM_ARRAY_TASK_COUNT');
    // Slurm arrays may start at 1 (--array=1-N): shift by SLURM_ARRAY_TASK_MIN.
    if (env.SLURM_ARRAY_TASK_MIN !== undefined) index -= fromEnv('SLURM_ARRAY_TASK_MIN');
  } else if (index === undefined && env.JOB_COMPLETION_INDEX !== undefined) {
    index = fromEnv('JOB_COMPLETION_INDEX');
    source = 'JOB_COMPLETION_INDEX';
  }
  if (index === undefined) {
    if (count !== undefined) throw new UsageError('busi sweep: --task-count needs --task-index (or SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX)');
    return null;
  }
  if (count === undefined) throw new UsageError(`busi sweep: the task index comes from ${source}; give the number of array tasks with --task-count N`);
  return { index, count, source };
}
