import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MultiTaskModel } from '@busi/core';
import '@busi/decoders';
import { runCli } from '../../src/cli/main';
import { parseCommandArgs, commandHelp, UsageError, type Command } from '../../src/cli/args';
import { ProgressBar, formatDuration, RunningMean } from '../../src/report/progress';
import { SlimResNetEncoder } from '../../src/demo/slim-resnet';
import { fileSystem } from '@busi/data';

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function streams() {
  return { stdout: new Capture(), stderr: new Capture() };
}

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fake: Command = {
  name: 'fake',
  summary: 'a test command',
  options: {
    size: { type: 'int', default: 64, min: 32, description: 'size' },
    lr: { type: 'number', default: 0.1, description: 'rate' },
    mode: { type: 'string', choices: ['a', 'b'], default: 'a', description: 'mode' },
    force: { type: 'boolean', short: 'f', description: 'force' },
  },
  run: async (values, positionals, ctx) => {
    ctx.stdout.write(JSON.stringify({ values, positionals }));
    return values.force ? 3 : 0;
  },
};

describe('argument parsing and dispatch', () => {
  test('options are converted, defaulted and validated', () => {
    const p = parseCommandArgs(fake, ['--size', '96', '--lr=0.5', '-f', 'x']);
    expect(p.values).toEqual({ size: 96, lr: 0.5, mode: 'a', force: true });
    expect(p.positionals).toEqual(['x']);
    expect(parseCommandArgs(fake, ['-h']).help).toBe(true);
    expect(() => parseCommandArgs(fake, ['--size', '1.5'])).toThrow(/--size must be an integer; got '1.5'/);
    expect(() => parseCommandArgs(fake, ['--size', '16'])).toThrow(/--size must be >= 32; got 16/);
    expect(() => parseCommandArgs(fake, ['--lr', 'abc'])).toThrow(/--lr must be a number/);
    expect(() => parseCommandArgs(fake, ['--mode', 'c'])).toThrow(/--mode must be one of a, b; got 'c'/);
    expect(() => parseCommandArgs(fake, ['--nope'])).toThrow(UsageError);
    const help = commandHelp(fake);
    expect(help).toMatch(/Usage: busi fake \[options\]/);
    expect(help).toMatch(/--size N\s+size \(default: 64\)/);
    expect(help).toMatch(/-f, --force\s+force/);
    expect(help).toMatch(/--mode VALUE\s+mode \(one of: a, b; default: a\)/);
  });

  test('runCli: help, version, unknown command, usage errors, exit codes', async () => {
    let s = streams();
    expect(await runCli(['--help'], s, [fake])).toBe(0);
    expect(s.stdout.text).toMatch(/Commands:\n\s+fake\s+a test command/);
    s = streams();
    expect(await runCli([], s, [fake])).toBe(2);
    s = streams();
    expect(await runCli(['--version'], s, [fake])).toBe(0);
    expect(s.stdout.text).toMatch(/^\d+\.\d+\.\d+\n$/);
    s = streams();
    expect(await runCli(['fak'], s, [fake])).toBe(2);
    expect(s.stderr.text).toMatch(/unknown command 'fak'\. Did you mean fake\?/);
    s = streams();
    expect(await runCli(['fake', '--size', 'x'], s, [fake])).toBe(2);
    expect(s.stderr.text).toMatch(/--size must be an integer[\s\S]*See busi fake --help/);
    s = streams();
    expect(await runCli(['fake', '--help'], s, [fake])).toBe(0);
    expect(s.stdout.text).toMatch(/Usage: busi fake/);
    s = streams();
    expect(await runCli(['fake', '-f'], s, [fake])).toBe(3);
    const failing: Command = { ...fake, run: async () => Promise.reject(new Error('boom')) };
    s = streams();
    expect(await runCli(['fake'], s, [failing])).toBe(1);
    expect(s.stderr.text).toBe('busi fake: error: boom\n');
    // The real command table has demo, with help for every option.
    s = streams();
    expect(await runCli(['demo', '--help'], s)).toBe(0);
    for (const opt of ['--out', '--force', '--size', '--epochs', '--backend']) expect(s.stdout.text).toContain(opt);
  });
});

describe('progress reporting', () => {
  test('bar shows counts, percent, elapsed, ETA and running values', () => {
    let t = 0;
    const out = new Capture();
    const bar = new ProgressBar({ total: 10, label: 'epoch 1/2', width: 10, now: () => t, stream: out });
    t = 4000;
    bar.update(4, { loss: 0.5 });
    expect(bar.render({ loss: 0.5 })).toBe('epoch 1/2 [####------]  4/10  40% 0:04 eta 0:06 loss 0.5000');
    bar.update(6);
    bar.finish();
    // Not a TTY: one line per quarter reached, then the final line.
    expect(out.text.split('\n').filter(Boolean)).toHaveLength(3);
    expect(out.text).toMatch(/10\/10 100%/);
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(65)).toBe('1:05');
    const m = new RunningMean();
    m.add({ loss: 1 }, 1);
    m.add({ loss: 4 }, 3);
    expect(m.values().loss).toBeCloseTo(3.25);
    expect(() => new ProgressBar({ total: 0 })).toThrow(/total/);
  });
});

describe('slim-resnet', () => {
  test('builds a multi-task model with the standard strides; saves and loads through fileSystem', async () => {
    const enc = new SlimResNetEncoder({ widths: [4, 4, 8, 8, 8] });
    expect(enc.outChannels).toEqual([3, 4, 4, 8, 8, 8]);
    expect(enc.reductions).toEqual([1, 2, 4, 8, 16, 32]);
    const model = new MultiTaskModel({ encoder: enc, decoder: { name: 'unet', decoderChannels: [8, 8, 4, 4, 4] }, classes: 3 });
    const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
    const a = model.predict(x);
    expect(a.mask.shape).toEqual([2, 32, 32, 1]);
    expect(model.torchParams().map((p) => p.name)).toContain('encoder.layer2.0.downsample.0.weight');
    const dir = path.join(tmp, 'slim');
    await model.save(fileSystem(dir));
    const loaded = await MultiTaskModel.load(fileSystem(dir));
    const b = loaded.predict(x);
    expect(Array.from(b.logits.dataSync())).toEqual(Array.from(a.logits.dataSync()));
    expect(loaded.config.encoder).toEqual(enc.getConfig());
    tf.dispose([x, a.mask, a.logits, b.mask, b.logits]);
    model.dispose();
    loaded.dispose();
    expect(() => new SlimResNetEncoder({ widths: [1, 2] })).toThrow(/widths must be 5/);
  });
});

describe('busi demo', () => {
  test('trains, evaluates, writes model, metrics and overlays; refuses to overwrite; no tensor leak', async () => {
    const out = path.join(tmp, 'demo');
    const before = tf.memory().numTensors;
    const s = streams();
    const args = ['demo', '-o', out, '--size', '32', '--count', '24', '--epochs', '2', '--batch-size', '4', '--overlays', '2', '--backend', 'wasm'];
    const rc = await runCli(args, s);
    expect(s.stderr.text).toBe('');
    expect(rc).toBe(0);
    expect(s.stdout.text).toMatch(/busi backend: wasm/);
    expect(s.stdout.text).toMatch(/data: 24 synthetic 32x32 images; train 18 \(6 benign, 6 malignant, 6 normal\), test 6/);
    expect(s.stdout.text).toMatch(/epoch 2\/2 \[#+\] 5\/5 100%/);
    expect(s.stdout.text).toMatch(/segmentation\s+dice \d\.\d{4}/);
    expect(s.stdout.text).toMatch(/confusion \(rows: truth, columns: prediction\)/);
    expect(tf.memory().numTensors).toBe(before);
    expect(fs.readdirSync(path.join(out, 'model')).sort()).toEqual(['MODEL_CARD.md', 'model.json', 'weights.bin']);
    expect(fs.readdirSync(path.join(out, 'overlays'))).toHaveLength(2);
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.history.epoch).toEqual([0, 1]);
    expect(metrics.test.classification.count).toBe(6);
    const model = await MultiTaskModel.load(fileSystem(path.join(out, 'model')));
    expect(model.config.encoder.name).toBe('slim-resnet');
    model.dispose();

    const again = streams();
    expect(await runCli(args, again)).toBe(1);
    expect(again.stderr.text).toMatch(/exists and is not empty; pass --force/);
    expect(await runCli(['demo', '--size', '40'], streams())).toBe(1);
    const usage = streams();
    expect(await runCli(['demo', '--balance', '1,2'], usage)).toBe(2);
    expect(usage.stderr.text).toMatch(/--balance must be/);
    const bad = streams();
    const n = tf.memory().numTensors;
    expect(await runCli(['demo', '-o', path.join(tmp, 'bad'), '--encoder', 'nope', '--size', '32', '--count', '20', '--backend', 'wasm'], bad)).toBe(1);
    expect(bad.stderr.text).toMatch(/unknown encoder 'nope'/);
    expect(tf.memory().numTensors).toBe(n);
  });
});
