import type { CliContext } from '../cli/args';

/** A stop request from the first SIGINT or SIGTERM (a second one quits at once); `dispose` removes the handlers. */
export function stopSignal(ctx: CliContext): { signal: AbortSignal; abort(): void; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    ctx.stderr.write(`\n${name}: stopping after the current batch; running tasks save a checkpoint (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    abort: () => controller.abort(),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
