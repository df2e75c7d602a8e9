import { commands } from '../commands/index';
import { BUSI_VERSION } from '../version';
import { commandHelp, mainHelp, parseCommandArgs, UsageError, type CliContext, type Command } from './args';

/**
 * Runs the `busi` command line on `argv` (without `node` and the script) and resolves to the exit
 * code: 0 success, 1 failure, 2 usage error. Output goes to `ctx` (process streams by default).
 */
export async function runCli(argv: string[], ctx: Partial<CliContext> = {}, available: readonly Command[] = commands): Promise<number> {
  const io: CliContext = { stdout: ctx.stdout ?? process.stdout, stderr: ctx.stderr ?? process.stderr, cwd: ctx.cwd ?? process.cwd() };
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const target = first === 'help' ? available.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(target ? commandHelp(target) : mainHelp(available, BUSI_VERSION));
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${BUSI_VERSION}\n`);
    return 0;
  }
  const command = available.find((c) => c.name === first);
  if (!command) {
    const close = available.filter((c) => c.name.startsWith(first.slice(0, 2))).map((c) => c.name);
    io.stderr.write(
      `busi: unknown command '${first}'.${close.length ? ` Did you mean ${close.join(' or ')}?` : ''} ` +
        `Commands: ${available.map((c) => c.name).join(', ')}. See busi --help.\n`,
    );
    return 2;
  }
  try {
    const { values, positionals, help } = parseCommandArgs(command, rest);
    if (help) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    return (await command.run(values, positionals, io)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`${e.message}\nSee busi ${command.name} --help.\n`);
      return 2;
    }
    const err = e as Error;
    io.stderr.write(`busi ${command.name}: error: ${err.message ?? String(e)}\n`);
    if (process.env.BUSI_DEBUG) io.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}
