import type { Logs, TrainingCallback } from './callbacks';

/**
 * How much {@link Trainer.fit} prints, as Keras's `verbose`:
 * - `0`: nothing;
 * - `1`: an `Epoch i/n` header, then a progress bar redrawn after every batch when the output is a
 *   terminal, closed by a line with the batch count, time, time per step, the epoch's losses,
 *   learning rate and validation results;
 * - `2`: one line per epoch with the same figures and no bar (for log files and notebooks);
 * - `'auto'` (the default): `1` when standard output is a terminal, otherwise `0`, so that code
 *   run by a server, a worker, a test runner or the browser writes nothing it was not asked to.
 */
export type Verbosity = 0 | 1 | 2 | 'auto';

/** Where progress text goes and whether it can redraw a line in place. */
export interface ProgressOutput {
  /** Writes text as given (no newline added). */
  write(text: string): void;
  /** Whether `\r` redraws the current line (a terminal); a bar is only drawn when true. */
  interactive: boolean;
}

/** Standard output in Node/Deno (interactive when it is a TTY); `console.log` line by line elsewhere. */
export function defaultProgressOutput(): ProgressOutput {
  const stdout = (globalThis as { process?: { stdout?: { write?: (s: string) => unknown; isTTY?: boolean } } }).process?.stdout;
  if (stdout && typeof stdout.write === 'function') {
    return { write: (s) => void stdout.write!(s), interactive: stdout.isTTY === true };
  }
  let pending = '';
  return {
    write: (s) => {
      pending += s;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) console.log(line);
    },
    interactive: false,
  };
}

/** Resolves `'auto'` (see {@link Verbosity}) and checks the value. */
export function resolveVerbosity(verbose: Verbosity | undefined, output: ProgressOutput): 0 | 1 | 2 {
  const v = verbose ?? 'auto';
  if (v === 'auto') return output.interactive ? 1 : 0;
  if (v !== 0 && v !== 1 && v !== 2) throw new Error(`Trainer: verbose must be 0, 1, 2 or 'auto', got ${String(v)}`);
  return v;
}

/** Constructor arguments of {@link ProgressLogger}. */
export interface ProgressLoggerArgs {
  /** 1 (header, bar, closing line) or 2 (one line per epoch); see {@link Verbosity}. */
  verbose: 1 | 2;
  /** Epochs the fit trains up to, shown as `Epoch i/n`. */
  epochs: number;
  /** Optimizer steps per epoch, the bar's length. */
  batchesPerEpoch: number;
  /** Default: standard output in Node and Deno (a terminal when it is a TTY), `console.log` elsewhere. */
  output?: ProgressOutput;
}

const BAR_WIDTH = 30;

/**
 * The callback behind `TrainerOptions.verbose`: prints each epoch's losses, metrics and duration
 * as Keras's progress logger does. {@link Trainer} adds it itself; it is exported for tests and for
 * drivers (data-parallel training) that run epochs without `Trainer.fit`.
 */
export class ProgressLogger implements TrainingCallback {
  private readonly output: ProgressOutput;
  private epochStart = 0;
  private lastDraw = 0;
  private samples = 0;
  private lossSum = 0;

  constructor(private readonly args: ProgressLoggerArgs) {
    this.output = args.output ?? defaultProgressOutput();
  }

  /** Starts the epoch's clock and counters; with verbose 1 prints the `Epoch i/n` header. */
  onEpochBegin(epoch: number): void {
    this.epochStart = Date.now();
    this.lastDraw = 0;
    this.samples = 0;
    this.lossSum = 0;
    if (this.args.verbose === 1) this.output.write(`Epoch ${epoch + 1}/${this.args.epochs}\n`);
  }

  onBatchEnd(batch: number, logs: Logs): void {
    this.samples += logs.size;
    this.lossSum += logs.loss * logs.size;
    if (this.args.verbose !== 1 || !this.output.interactive) return;
    const now = Date.now();
    // Redrawing costs little, but a terminal flooded at hundreds of batches a second flickers.
    if (batch + 1 < this.args.batchesPerEpoch && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const done = batch + 1;
    const perStep = (now - this.epochStart) / done;
    const eta = (perStep * (this.args.batchesPerEpoch - done)) / 1000;
    this.output.write(`\r${this.bar(done)} - ETA: ${eta.toFixed(0)}s - loss: ${fmt(this.lossSum / this.samples)}`);
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const ms = Date.now() - this.epochStart;
    const n = this.args.batchesPerEpoch;
    const figures = Object.entries(logs).map(([k, v]) => `${k}: ${fmt(v)}`);
    const timing = `${(ms / 1000).toFixed(1)}s ${Math.round(ms / n)}ms/step`;
    if (this.args.verbose === 1) {
      const clear = this.output.interactive ? '\r\x1b[K' : '';
      this.output.write(`${clear}${this.bar(n)} - ${timing} - ${figures.join(' - ')}\n`);
    } else {
      this.output.write(`Epoch ${epoch + 1}/${this.args.epochs} - ${timing} - ${figures.join(' - ')}\n`);
    }
  }

  private bar(done: number): string {
    const n = this.args.batchesPerEpoch;
    const filled = Math.round((BAR_WIDTH * done) / n);
    const body = done >= n ? '='.repeat(BAR_WIDTH) : `${'='.repeat(Math.max(0, filled - 1))}>${'.'.repeat(BAR_WIDTH - Math.max(1, filled))}`;
    return `${String(done).padStart(String(n).length)}/${n} [${body}]`;
  }
}

/** Four significant digits, as Keras prints; exponent form for very small or large values. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}
