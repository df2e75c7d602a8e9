/**
 * Pins the public API: the names (values and types) each package's entry point exports, as listed
 * in public-api.json. Adding, renaming or removing an export is then a visible change of that file,
 * and an internal module cannot become public by accident through an `export *`. After a deliberate
 * change: BUSI_UPDATE_API=1 npx jest packages/node/test/structure/public-api.test.ts (and review the diff).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { workspacePackages } from '../../../../scripts/import-graph';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const PINNED = path.join(__dirname, 'public-api.json');

/** `name` for an exported value (function, class, constant), `type name` for a type-only export. */
function entryPointExports(): Record<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!config) throw new Error('cannot read tsconfig.json');
  const entries = workspacePackages(root).map((p) => path.join(root, 'packages', p, 'src', 'index.ts'));
  const program = ts.createProgram(entries, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const [i, pkg] of workspacePackages(root).entries()) {
    const source = program.getSourceFile(entries[i]);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`${entries[i]}: not a module`);
    out[`@busi/${pkg}`] = checker
      .getExportsOfModule(moduleSymbol)
      .map((s) => {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        return target.flags & ts.SymbolFlags.Value ? s.name : `type ${s.name}`;
      })
      .sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')));
  }
  return out;
}

let cached: Record<string, string[]> | null = null;
const exportsNow = () => (cached ??= entryPointExports());

test('every entry point exports exactly the pinned names (public-api.json)', () => {
  const actual = exportsNow();
  if (process.env.BUSI_UPDATE_API) fs.writeFileSync(PINNED, `${JSON.stringify(actual, null, 2)}\n`);
  const pinned = JSON.parse(fs.readFileSync(PINNED, 'utf8')) as Record<string, string[]>;
  const diff: string[] = [];
  for (const pkg of new Set([...Object.keys(pinned), ...Object.keys(actual)])) {
    const want = new Set(pinned[pkg] ?? []);
    const got = new Set(actual[pkg] ?? []);
    for (const n of got) if (!want.has(n)) diff.push(`${pkg}: + ${n} (exported, not pinned)`);
    for (const n of want) if (!got.has(n)) diff.push(`${pkg}: - ${n} (pinned, no longer exported)`);
  }
  if (diff.length) diff.push('a deliberate API change? BUSI_UPDATE_API=1 npx jest packages/node/test/structure/public-api.test.ts rewrites public-api.json');
  expect(diff).toEqual([]);
});

test('@busi/node keeps its internals internal', () => {
  const node = new Set(exportsNow()['@busi/node']);
  // Command implementations, option parsing, run-folder writers and report renderers.
  for (const internal of ['trainCommand', 'runConfigFromOptions', 'RUN_OPTIONS', 'parseCommandArgs', 'writeJsonAtomic', 'saveCheckpoint', 'ProgressBar', 'writeChart', 'evaluationHtml']) {
    expect(node.has(internal)).toBe(false);
  }
  for (const internal of ['contour', 'groupUnits', 'naturalCompare']) expect(new Set(exportsNow()['@busi/data']).has(internal)).toBe(false);
});
