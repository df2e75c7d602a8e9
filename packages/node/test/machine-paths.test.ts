/**
 * No machine paths in the repository: docs, code and tests name files relative to the checkout or
 * as ../shared/… beside it, never as a path on one machine (which also makes a test skip in CI).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const listed = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
const files = listed.status === 0 ? listed.stdout.split('\0').filter(Boolean) : null;
if (!files) console.warn('machine-paths.test: skipped: not a git checkout (git ls-files failed)');

// Home and work folders of a particular machine (built here so this file does not match itself).
const MACHINE = new RegExp(['work/', 'home/[a-z]', 'Users/[A-Za-z]', 'root/'].map((s) => `(?:^|[\\s'"\`(=])/${s}`).join('|'), 'm');

(files ? test : test.skip)('no tracked text file names a machine path', () => {
  const found: string[] = [];
  for (const f of files ?? []) {
    const file = path.join(root, f);
    if (!fs.existsSync(file) || fs.statSync(file).size > 2_000_000) continue;
    const bytes = fs.readFileSync(file);
    if (bytes.includes(0)) continue; // binary
    const text = bytes.toString('utf8');
    const m = MACHINE.exec(text);
    if (m) found.push(`${f}:${text.slice(0, m.index).split('\n').length}: ${m[0].trim()}`);
  }
  expect(found).toEqual([]);
});
