#!/usr/bin/env node
// The `busi` command. npm links bin files when it installs, before `npm run build` writes dist/,
// and skips a bin whose file is missing (then `npx busi` would look for a `busi` package in the
// registry): so the link points at this committed launcher, which runs the built CLI, or says to
// build it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("busi: the CLI is not built yet: run 'npm run build' in the busi checkout (it writes packages/node/dist/)");
  process.exit(1);
}
await import(cli.href);
