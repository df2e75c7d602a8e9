/**
 * Keeps the API reference complete: every package's typedoc config turns on the validation that
 * reports undocumented exports, unexported referenced types and broken links; the root config
 * converts every package (typedoc validates each package with that package's config); and CI
 * builds it with warnings as errors. The last test runs typedoc itself, as CI does, on a small
 * package that carries a real package config, to show an undocumented export fails the build.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { workspacePackages } from '../../../../scripts/import-graph';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const readJson = (file: string): any => JSON.parse(fs.readFileSync(file, 'utf8'));
const VALIDATION = ['notDocumented', 'notExported', 'invalidLink'];

test.each(workspacePackages(root))('packages/%s/typedoc.json validates documentation, exports and links', (pkg) => {
  const file = path.join(root, 'packages', pkg, 'typedoc.json');
  expect(fs.existsSync(file)).toBe(true);
  const config = readJson(file);
  expect(config.entryPoints).toEqual(['src/index.ts']);
  for (const check of VALIDATION) expect([check, config.validation?.[check]]).toEqual([check, true]);
  // Hiding or excusing undocumented items would pass the check without documenting them.
  expect(config.excludeNotDocumented ?? false).toBe(false);
  expect(config.intentionallyNotDocumented ?? []).toEqual([]);
  expect(config.requiredToBeDocumented).toBeUndefined();
});

test('the root typedoc config converts every workspace package', () => {
  const config = readJson(path.join(root, 'typedoc.json'));
  expect(config.entryPointStrategy).toBe('packages');
  expect([...config.entryPoints].sort()).toEqual(workspacePackages(root).map((p) => `packages/${p}`));
  expect(readJson(path.join(root, 'package.json')).workspaces.sort()).toEqual(workspacePackages(root).map((p) => `packages/${p}`));
});

test('.ci/run builds the API reference with warnings as errors', () => {
  const commands = fs
    .readFileSync(path.join(root, '.ci', 'run'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  expect(commands).toContain('set -euo pipefail');
  expect(commands).toContain('npm run docs -- --treatWarningsAsErrors');
  // `npm run docs` is typedoc on the root config (after building the packages it reads).
  expect(readJson(path.join(root, 'package.json')).scripts.docs).toMatch(/(^|&& )typedoc$/);
});

test('an undocumented export under a package config fails typedoc --treatWarningsAsErrors in packages mode', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-api-docs-'));
  try {
    const pkg = path.join(tmp, 'packages', 'tiny');
    fs.mkdirSync(path.join(pkg, 'src'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@busi/tiny', version: '0.1.0', types: './src/index.ts' }));
    fs.writeFileSync(path.join(pkg, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', types: [] }, include: ['src/**/*.ts'] }));
    fs.copyFileSync(path.join(root, 'packages', 'losses', 'typedoc.json'), path.join(pkg, 'typedoc.json'));
    fs.writeFileSync(
      path.join(pkg, 'src', 'index.ts'),
      '/** Doubles a number. */\nexport function documentedTwice(x: number): number {\n  return 2 * x;\n}\n\nexport function undocumentedThrice(x: number): number {\n  return 3 * x;\n}\n',
    );
    const rootConfig = { ...readJson(path.join(root, 'typedoc.json')), entryPoints: ['packages/tiny'], out: path.join(tmp, 'api'), readme: 'none' };
    fs.writeFileSync(path.join(tmp, 'typedoc.json'), JSON.stringify(rootConfig));
    const typedoc = path.join(path.dirname(require.resolve('typedoc/package.json')), 'bin', 'typedoc');
    const run = spawnSync(process.execPath, [typedoc, '--treatWarningsAsErrors'], { cwd: tmp, encoding: 'utf8' });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output).toMatch(/undocumentedThrice.*does not have any documentation/);
    expect(output).not.toMatch(/documentedTwice.*does not have any documentation/);
    expect(run.status).not.toBe(0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
