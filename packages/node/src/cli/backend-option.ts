import { BACKEND_CHOICES } from '@busi/kernels';
import type { OptionSpec } from './args';

/**
 * The `--backend` option of every command that computes. It has no default on purpose: left out,
 * `initBackend` reads `BUSI_BACKEND`, then picks automatically; a default of 'auto' here would
 * silently override the variable.
 */
export function backendOption(what = 'tfjs backend'): OptionSpec {
  return { type: 'string', choices: [...BACKEND_CHOICES], description: `${what} (default: $BUSI_BACKEND if set, else auto)` };
}
