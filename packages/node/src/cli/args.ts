import { parseArgs } from 'node:util';

/** One command-line option. */
export interface OptionSpec {
  /** Value type; 'int' and 'number' are parsed and checked. */
  type: 'string' | 'boolean' | 'int' | 'number';
  /** One-letter alias. */
  short?: string;
  /** Default value (shown in --help). */
  default?: string | number | boolean;
  /** One line for --help. */
  description: string;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** Lower bound of a numeric option (inclusive). */
  min?: number;
  /** Upper bound of a numeric option (inclusive). */
  max?: number;
  /** Name of the value in --help, e.g. DIR. */
  valueName?: string;
}

/** Parsed option values, by option name (kebab-case as on the command line). */
export type OptionValues = Record<string, string | number | boolean | undefined>;

/** A usage error: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A `busi` subcommand. Commands live one per module under `commands/` and are listed in `commands/index.ts`. */
export interface Command {
  /** Subcommand name (`busi <name>`). */
  name: string;
  /** One line for `busi --help`. */
  summary: string;
  /** Paragraphs for `busi <name> --help`. */
  description?: string;
  /** Positional arguments, for the usage line (e.g. '<folder>'). */
  positionals?: string;
  /** The command's options by name, kebab-case as typed (`--batch-size`); `--help` is added for every command. */
  options: Record<string, OptionSpec>;
  /** Runs the command; resolves to the exit code (default 0). */
  run(values: OptionValues, positionals: string[], ctx: CliContext): Promise<number | void>;
}

/** Where a command writes; replaceable in tests. */
export interface CliContext {
  /** Results, tables and progress. */
  stdout: NodeJS.WritableStream & {
    /** True when a terminal: progress bars then redraw in place instead of printing a line per quarter. */
    isTTY?: boolean;
    /** Width of the terminal in characters, as `process.stdout` gives it; absent when not a terminal. */
    columns?: number;
  };
  /** Warnings and errors. */
  stderr: NodeJS.WritableStream;
  /** Folder relative paths are resolved against. */
  cwd: string;
}

/** Parses `argv` (after the subcommand) against a command's options; `--help` is handled by the caller. */
export function parseCommandArgs(command: Command, argv: string[]): { values: OptionValues; positionals: string[]; help: boolean } {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(command.options)) {
    config[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages ("Unknown option '--x'") are clear; add the command for context.
    throw new UsageError(`busi ${command.name}: ${(e as Error).message.replace(/\. To specify a positional.*$/s, '')}`);
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: OptionValues = {};
  for (const [name, spec] of Object.entries(command.options)) {
    const v = raw[name];
    values[name] = v === undefined ? spec.default : parseOptionValue(command.name, name, spec, v);
  }
  return { values, positionals: parsed.positionals, help: raw.help === true };
}

/** Checks and converts one raw option value against its spec; a {@link UsageError} names `--name` and what was expected. */
export function parseOptionValue(cmd: string, name: string, spec: OptionSpec, v: string | boolean): string | number | boolean {
  if (spec.type === 'boolean' || typeof v === 'boolean') return v;
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(v)) {
      throw new UsageError(`busi ${cmd}: --${name} must be one of ${spec.choices.join(', ')}; got '${v}'`);
    }
    return v;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
    throw new UsageError(`busi ${cmd}: --${name} must be ${spec.type === 'int' ? 'an integer' : 'a number'}; got '${v}'`);
  }
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    const range = spec.max === undefined ? `>= ${spec.min}` : spec.min === undefined ? `<= ${spec.max}` : `in [${spec.min}, ${spec.max}]`;
    throw new UsageError(`busi ${cmd}: --${name} must be ${range}; got ${n}`);
  }
  return n;
}

/** `busi <command> --help`. */
export function commandHelp(command: Command): string {
  const lines = [`Usage: busi ${command.name}${command.positionals ? ` ${command.positionals}` : ''} [options]`, '', command.summary];
  if (command.description) lines.push('', command.description);
  lines.push('', 'Options:');
  const rows = Object.entries(command.options).map(([name, spec]) => {
    const value = spec.type === 'boolean' ? '' : ` ${spec.valueName ?? (spec.type === 'string' ? 'VALUE' : 'N')}`;
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${value}`;
    const extra = [
      spec.choices ? `one of: ${spec.choices.join(', ')}` : '',
      spec.default !== undefined && spec.default !== false ? `default: ${String(spec.default)}` : '',
    ].filter(Boolean);
    return [flag, `${spec.description}${extra.length ? ` (${extra.join('; ')})` : ''}`];
  });
  rows.push(['-h, --help', 'Show this help']);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  return `${lines.join('\n')}\n`;
}

/** `busi --help`. */
export function mainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `busi ${version}: multi-task breast-ultrasound segmentation and classification on TensorFlow.js`,
    '',
    'Usage: busi <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `busi <command> --help` for the options of a command.',
    '',
  ].join('\n');
}
