/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Steps in total. */
  total: number;
  /** Text before the bar, e.g. 'epoch 1/8'. */
  label?: string;
  /** Output stream. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Bar width in characters. Default 24. */
  width?: number;
  /** Clock in ms (replaceable in tests). Default Date.now. */
  now?: () => number;
  /**
   * Redraw in place with '\r' (terminals) or print a line at each 25% (logs, CI). Default: in place
   * when the stream is a TTY.
   */
  inPlace?: boolean;
}

/**
 * A one-line progress bar with ETA and running values (e.g. the running mean loss):
 * `epoch 2/8 [#########-----------] 12/30  40% 0:14 eta 0:21  loss 0.4312`.
 */
export class ProgressBar {
  readonly total: number;
  private readonly label: string;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  private readonly width: number;
  private readonly now: () => number;
  private readonly inPlace: boolean;
  private readonly start: number;
  private current = 0;
  private lastQuarter = -1;
  private lastLength = 0;

  constructor(options: ProgressBarOptions) {
    if (!(Number.isInteger(options.total) && options.total > 0)) throw new Error(`ProgressBar: total must be a positive integer, got ${options.total}`);
    this.total = options.total;
    this.label = options.label ?? '';
    this.stream = options.stream ?? process.stderr;
    this.width = options.width ?? 24;
    this.now = options.now ?? Date.now;
    this.inPlace = options.inPlace ?? Boolean(this.stream.isTTY);
    this.start = this.now();
  }

  /** Sets the step count (clamped to total) and redraws with the given values. */
  update(current: number, values: Record<string, number> = {}): void {
    this.current = Math.max(0, Math.min(this.total, current));
    const line = this.render(values);
    if (this.inPlace) {
      const pad = Math.max(0, this.lastLength - line.length);
      this.stream.write(`\r${line}${' '.repeat(pad)}`);
      this.lastLength = line.length;
    } else {
      const quarter = Math.floor((this.current / this.total) * 4);
      if (quarter > this.lastQuarter) {
        this.lastQuarter = quarter;
        this.stream.write(`${line}\n`);
      }
    }
  }

  /** Ends the bar's line (in-place mode) so later output starts on a fresh line. */
  finish(values: Record<string, number> = {}): void {
    if (this.inPlace) {
      this.update(this.current, values);
      this.stream.write('\n');
    } else if (this.lastQuarter < 4) {
      this.lastQuarter = 3;
      this.update(this.total, values);
    }
  }

  /** The bar text for the current state. */
  render(values: Record<string, number> = {}): string {
    const frac = this.current / this.total;
    const filled = Math.round(frac * this.width);
    const elapsed = (this.now() - this.start) / 1000;
    const eta = this.current > 0 ? (elapsed / this.current) * (this.total - this.current) : NaN;
    const digits = String(this.total).length;
    const parts = [
      this.label,
      `[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}]`,
      `${String(this.current).padStart(digits)}/${this.total}`,
      `${String(Math.round(frac * 100)).padStart(3)}%`,
      formatDuration(elapsed),
      this.current < this.total ? `eta ${Number.isFinite(eta) ? formatDuration(eta) : '?'}` : '',
      ...Object.entries(values).map(([k, v]) => `${k} ${formatValue(v)}`),
    ];
    return parts.filter(Boolean).join(' ');
  }
}

/** m:ss, or h:mm:ss past an hour. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(4);
}

/** A running (sample-weighted) mean of named values, for progress display. */
export class RunningMean {
  private sums: Record<string, number> = {};
  private weight = 0;

  add(values: Record<string, number>, weight = 1): void {
    for (const [k, v] of Object.entries(values)) this.sums[k] = (this.sums[k] ?? 0) + v * weight;
    this.weight += weight;
  }

  values(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.sums).map(([k, s]) => [k, this.weight ? s / this.weight : NaN]));
  }

  reset(): void {
    this.sums = {};
    this.weight = 0;
  }
}
