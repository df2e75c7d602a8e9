import type { CliContext } from '../cli/args';

/** Options of {@link stopSignal}. */
export interface StopSignalOptions {
  /** Process signals that ask to stop. Default SIGINT and SIGTERM. */
  signals?: readonly NodeJS.Signals[];
  /** The line written to stderr on the first one. */
  message?: (signal: NodeJS.Signals) => string;
}

/**
 * A stop request from the first of `signals` (a second one quits at once, exit code 130), so a
 * training in progress can finish its batch and save a checkpoint; `dispose` removes the handlers.
 */
export function stopSignal(ctx: CliContext, options: StopSignalOptions = {}): { signal: AbortSignal; abort(): void; dispose(): void } {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const message = options.message ?? ((name) => `${name}: stopping after the current batch; running tasks save a checkpoint (again to quit at once)`);
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    ctx.stderr.write(`\n${message(name)}\n`);
    controller.abort();
  };
  for (const s of signals) process.on(s, onSignal);
  return {
    signal: controller.signal,
    abort: () => controller.abort(),
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
