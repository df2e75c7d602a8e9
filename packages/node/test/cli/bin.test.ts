/**
 * `npx busi` right after `npm ci && npm run build`: the bin npm links at install time (before any
 * build) must exist then, or npm skips it and npx goes to the registry for a package called `busi`.
 * Checked on this checkout's own install (CI installs with `npm ci` before the tests), with
 * `npx --no`, which never downloads.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'packages', 'node', 'package.json'), 'utf8'));

test('the busi bin is a committed, executable launcher that npm ci links', () => {
  const target = path.join(root, 'packages', 'node', pkg.bin.busi);
  const tracked = spawnSync('git', ['ls-files', '-s', path.relative(root, target)], { cwd: root, encoding: 'utf8' });
  if (tracked.status === 0 && tracked.stdout) expect(tracked.stdout).toMatch(/^100755 /); // in git, with its executable bit
  expect(fs.readFileSync(target, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  expect(pkg.files).toContain(path.dirname(pkg.bin.busi).replace(/^\.\//, ''));
  const link = path.join(root, 'node_modules', '.bin', 'busi');
  expect(fs.realpathSync(link)).toBe(fs.realpathSync(target));
});

test('npx --no busi runs the checkout’s CLI (or says to build it), never a downloaded package', () => {
  const r = spawnSync('npx', ['--no', '--', 'busi', '--version'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const built = fs.existsSync(path.join(root, 'packages', 'node', 'dist', 'cli.js'));
  if (built) {
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toContain(pkg.version);
  } else {
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("busi: the CLI is not built yet: run 'npm run build'");
  }
});
