#!/usr/bin/env node
import { runCli } from './cli/main';
import { setBusiScript } from './sweep/child';

// Sweeps start more busi processes from this script.
setBusiScript(process.argv[1]);

runCli(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  )
  // A busi started by a sweep has an IPC channel to its parent, which would keep it alive.
  .finally(() => process.connected && process.disconnect());
