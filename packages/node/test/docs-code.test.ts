/**
 * The code in README.md, docs/*.md and each package's README runs as the docs present it (the convention is in README.md,
 * "Code in the docs"):
 * - a fenced block right after a `<!-- runnable … -->` line runs as written: JS/TS bundled from the
 *   sources (examples/run-from-source.mjs) and run with Node in an empty folder; a shell block with
 *   bash in an empty folder, `busi` being the CLI run from the sources;
 * - every other JS/TS, shell or Python block says in its first line that it is not run
 *   (`// Not run by the tests: <why>` or `# Not run by the tests: <why>`), so no reader takes a
 *   fragment, a browser-only snippet or a 50-epoch training for a checked program.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { workspacePackages } from '../../../scripts/import-graph';

const root = path.resolve(__dirname, '..', '..', '..');
const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
// Each package's README (its npm page): its example is held to the same rule; its install line is
// not run (it installs from the registry).
const packageReadmes = workspacePackages(root).map((p) => `packages/${p}/README.md`);
const SCRIPT = ['ts', 'js', 'typescript', 'mjs'];
const SHELL = ['sh', 'bash', 'shell'];
const CODE = [...SCRIPT, ...SHELL, 'python'];
const NOT_RUN = /^(\/\/|#) Not run by the tests: \S/;

interface Block {
  /** `file:line` of the block's first code line. */
  where: string;
  lang: string;
  code: string;
  runnable: boolean;
  /** Shown verbatim from a file that packages/node/test/walkthrough/walkthrough.test.ts runs. */
  walkthrough: boolean;
}

function allBlocks(): Block[] {
  const out: Block[] = [];
  for (const file of [...docs, ...packageReadmes]) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
      const before = text.slice(0, m.index).split('\n');
      const marker = before[before.length - 2] ?? '';
      out.push({
        where: `${file}:${before.length + 1}`,
        lang: m[1],
        code: m[2],
        runnable: /^<!-- runnable\b.*-->$/.test(marker),
        walkthrough: /^<!-- walkthrough file: \S+ -->$/.test(marker),
      });
    }
  }
  return out.filter((b) => !(packageReadmes.includes(b.where.split(':')[0]) && SHELL.includes(b.lang)));
}

const blocks = allBlocks();
const scripts = blocks.filter((b) => b.runnable && SCRIPT.includes(b.lang)).map((b) => [b.where, b.code] as const);
const shells = blocks.filter((b) => b.runnable && SHELL.includes(b.lang)).map((b) => [b.where, b.code] as const);

test('every JS/TS, shell and Python block is marked runnable or says in its first line that it is not run', () => {
  // A shell script's label follows its #! line.
  const firstLine = (code: string) => code.replace(/^#!.*\n/, '');
  const unlabelled = blocks.filter((b) => CODE.includes(b.lang) && !b.runnable && !b.walkthrough && !NOT_RUN.test(firstLine(b.code))).map((b) => `${b.where} (${b.lang})`);
  const markedOther = blocks.filter((b) => b.runnable && ![...SCRIPT, ...SHELL].includes(b.lang)).map((b) => `${b.where} (${b.lang}: only JS/TS and shell blocks run)`);
  expect([...unlabelled, ...markedOther]).toEqual([]);
});

test('README.md marks its "In code" block runnable, and guides beyond it carry runnable blocks', () => {
  const files = new Set(blocks.filter((b) => b.runnable).map((b) => b.where.split(':')[0]));
  for (const f of ['README.md', 'docs/getting-started.md', 'docs/data-and-cli.md', 'docs/evaluation.md', 'docs/export.md', 'docs/performance.md']) expect(files).toContain(f);
});

test("every package README's example is marked runnable, or says why it is not run", () => {
  for (const readme of packageReadmes) {
    const examples = blocks.filter((b) => b.where.startsWith(`${readme}:`) && SCRIPT.includes(b.lang));
    expect([readme, examples.length > 0]).toEqual([readme, true]);
    for (const b of examples) expect([b.where, b.runnable || NOT_RUN.test(b.code)]).toEqual([b.where, true]);
  }
});

function inEmptyFolder<T>(run: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-docs-code-'));
  try {
    return run(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function check(r: ReturnType<typeof spawnSync>): void {
  if (r.status !== 0) throw new Error(`exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stdout}\n${r.stderr}`);
}

test.each(scripts)('%s runs as written', (_where, code) => {
  inEmptyFolder((dir) => {
    fs.writeFileSync(path.join(dir, 'block.ts'), code);
    const r = spawnSync(process.execPath, [path.join(root, 'examples', 'run-from-source.mjs'), path.join(dir, 'block.ts')], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    check(r);
    // What the README's block says it prints and writes.
    if (code.includes("fileSystem('out/model')")) {
      expect(r.stdout).toContain('32,527,252 params');
      expect(fs.existsSync(path.join(dir, 'out', 'model', 'model.json'))).toBe(true);
    }
    // The getting-started training block's `verbose: 2`: one progress line per epoch.
    if (code.includes('verbose: 2')) expect(r.stdout).toMatch(/^Epoch 1\/2 - [\d.]+s \d+ms\/step - loss: [^\n]* - val_loss: [^\n]*\nEpoch 2\/2 - /m);
  });
}, 320_000);

test.each(shells)('%s runs as written (busi = the CLI from the sources)', (_where, code) => {
  inEmptyFolder((dir) => {
    const bin = path.join(dir, '.bin');
    fs.mkdirSync(bin);
    const busi = path.join(bin, 'busi');
    const launcher = [path.join(root, 'examples', 'run-from-source.mjs'), path.join(root, 'packages', 'node', 'src', 'cli.ts')];
    fs.writeFileSync(busi, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${launcher.map((a) => JSON.stringify(a)).join(' ')} "$@"\n`, { mode: 0o755 });
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', code], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
    });
    check(r);
  });
}, 320_000);
