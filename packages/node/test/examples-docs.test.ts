/**
 * Keeps the guides true to the code: in the guides and examples/README.md, every relative link
 * resolves, every name a TypeScript snippet imports from @busi/* is exported by that package, and
 * every `busi <command> --option` a guide mentions exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '@busi/core';
import * as backbones from '@busi/backbones';
import * as decoders from '@busi/decoders';
import * as losses from '@busi/losses';
import * as onnxPackage from '@busi/onnx';
import * as kernels from '@busi/kernels';
import * as data from '@busi/data';
import * as node from '@busi/node';
import { commands } from '../src/commands/index';

const root = path.resolve(__dirname, '..', '..', '..');
const GUIDES = ['getting-started.md', 'architecture.md', 'training-on-busi.md', 'pytorch-weights.md', 'browser.md', 'performance.md', 'evaluation.md', 'export.md', 'reliability.md', 'sweeps.md'].map((f) => path.join(root, 'docs', f));
const FILES = [...GUIDES, path.join(root, 'examples', 'README.md')];
const PACKAGES: Record<string, Record<string, unknown>> = {
  '@busi/core': core,
  '@busi/backbones': backbones,
  '@busi/decoders': decoders,
  '@busi/losses': losses,
  '@busi/onnx': onnxPackage,
  '@busi/kernels': kernels,
  '@busi/data': data,
  '@busi/node': node,
};

const read = (f: string) => fs.readFileSync(f, 'utf8');
const rel = (f: string) => path.relative(root, f);

/** Fenced code blocks of a Markdown text with the given info strings. */
function codeBlocks(md: string, langs: string[]): string[] {
  const out: string[] = [];
  const re = /```(\w*)\n([\s\S]*?)```/g;
  for (let m = re.exec(md); m; m = re.exec(md)) if (langs.includes(m[1])) out.push(m[2]);
  return out;
}

describe('guides', () => {
  test('all guides exist', () => {
    for (const f of FILES) expect(fs.existsSync(f)).toBe(true);
  });

  test.each(FILES.map((f) => [rel(f), f]))('%s: relative links resolve', (_name, file) => {
    const broken: string[] = [];
    for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split('#')[0];
      if (!target || /^[a-z]+:/i.test(target)) continue;
      if (!fs.existsSync(path.resolve(path.dirname(file), target))) broken.push(m[1]);
    }
    expect(broken).toEqual([]);
  });

  test.each(FILES.map((f) => [rel(f), f]))('%s: names imported from @busi/* in TypeScript snippets are exported', (_name, file) => {
    const missing: string[] = [];
    for (const block of codeBlocks(read(file), ['ts', 'js', 'typescript'])) {
      for (const m of block.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@busi\/\w+)'/g)) {
        const pkg = PACKAGES[m[2]];
        if (!pkg) {
          missing.push(`${m[2]} (no such package)`);
          continue;
        }
        for (const spec of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
          if (spec.startsWith('type ')) continue;
          const name = spec.split(/\s+as\s+/)[0];
          if (!(name in pkg)) missing.push(`${name} from ${m[2]}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test('every `busi <command>` and its --options named in the guides exist', () => {
    const byName = new Map(commands.map((c) => [c.name, c]));
    const problems: string[] = [];
    for (const file of FILES) {
      // Command lines as written in shell blocks: `node packages/node/dist/cli.js <command> ...`.
      for (const block of codeBlocks(read(file), ['sh', 'bash', ''])) {
        for (const line of block.replace(/\\\n/g, ' ').split('\n')) {
          const m = line.match(/cli\.js\s+([\w-]+)(.*)$/);
          if (!m) continue;
          const cmd = byName.get(m[1]);
          if (!cmd) {
            problems.push(`${rel(file)}: unknown command '${m[1]}'`);
            continue;
          }
          for (const o of m[2].matchAll(/(?:^|\s)--([a-z][\w-]*)/g)) {
            if (!(o[1] in cmd.options) && o[1] !== 'help') problems.push(`${rel(file)}: busi ${m[1]} has no --${o[1]}`);
          }
        }
      }
    }
    // Options named in running text: each must belong to some command.
    const all = new Set(commands.flatMap((c) => Object.keys(c.options)));
    for (const m of read(path.join(root, 'docs', 'training-on-busi.md')).matchAll(/`--([a-z][\w-]*)/g)) {
      if (!all.has(m[1]) && m[1] !== 'help') problems.push(`training-on-busi.md: no command has --${m[1]}`);
    }
    expect(problems).toEqual([]);
  });
});
