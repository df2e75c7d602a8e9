import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const hasCompiler = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-native-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('busi build-native', () => {
  (hasCompiler ? test : test.skip)('compiles a loadable addon to --out and says how to use it', async () => {
    const out = path.join(tmp, 'addon', 'busi_native.node');
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await runCli(['build-native', '--out', out], { stdout, stderr, cwd: tmp });
    expect({ code, stderr: stderr.text }).toEqual({ code: 0, stderr: '' });
    expect(stdout.text).toContain(`busi native: built ${out}`);
    expect(stdout.text).toContain(`BUSI_NATIVE_PATH=${out}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(out) as { conv: unknown; getThreads: () => number };
    expect(typeof addon.conv).toBe('function');
    expect(addon.getThreads()).toBeGreaterThan(0);
    // No temporary file is left beside it: only the addon and its CPU-feature record.
    expect(fs.readdirSync(path.dirname(out)).sort()).toEqual(['busi_native.cpu.json', 'busi_native.node']);
  });

  test('without a compiler it fails naming the compiler, or with --if-possible reports and exits 0', async () => {
    const saved = process.env.CC;
    process.env.CC = path.join(tmp, 'no-such-cc');
    try {
      const out = path.join(tmp, 'never.node');
      const stderr = new Capture();
      expect(await runCli(['build-native', '--out', out], { stdout: new Capture(), stderr, cwd: tmp })).toBe(1);
      expect(stderr.text).toContain(`C compiler '${process.env.CC}' not found (set CC)`);
      const stdout = new Capture();
      expect(await runCli(['build-native', '--if-possible', '--out', out], { stdout, stderr: new Capture(), cwd: tmp })).toBe(0);
      expect(stdout.text).toMatch(/not built \(C compiler .* not found/);
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.CC;
      else process.env.CC = saved;
    }
  });
});
