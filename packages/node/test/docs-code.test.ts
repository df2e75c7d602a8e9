/**
 * The code blocks the docs present as runnable (a fenced block right after a `<!-- runnable … -->`
 * line, in README.md and docs/*.md) run as written: each is bundled from the sources
 * (examples/run-from-source.mjs) and executed with Node in an empty folder.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** `[file:line, code]` of every block marked runnable. */
function runnableBlocks(): [string, string][] {
  const out: [string, string][] = [];
  for (const file of docs) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/<!-- runnable[^>]*-->\n```(?:ts|js|typescript)\n([\s\S]*?)```/g)) {
      out.push([`${file}:${text.slice(0, m.index).split('\n').length + 2}`, m[1]]);
    }
  }
  return out;
}

const blocks = runnableBlocks();

test('README.md marks its "In code" block runnable', () => {
  expect(blocks.map(([where]) => where.split(':')[0])).toContain('README.md');
});

test.each(blocks)('%s runs as written', (_where, code) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-docs-code-'));
  try {
    fs.writeFileSync(path.join(dir, 'block.ts'), code);
    const r = spawnSync(process.execPath, [path.join(root, 'examples', 'run-from-source.mjs'), path.join(dir, 'block.ts')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0) throw new Error(`exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stdout}\n${r.stderr}`);
    // What the README's block says it prints and writes.
    if (code.includes("fileSystem('out/model')")) {
      expect(r.stdout).toContain('32,527,252 params');
      expect(fs.existsSync(path.join(dir, 'out', 'model', 'model.json'))).toBe(true);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 320_000);
