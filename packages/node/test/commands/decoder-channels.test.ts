import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decoders } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { parseCommandArgs } from '../../src/cli/args';
import { trainCommand } from '../../src/commands/train';
import { runConfigFromOptions } from '../../src/runs/run-options';
import { buildModel } from '../../src/runs/train-run';
import { cli, readJson } from './helpers';

// --decoder-channels is shaped by each decoder's registry default: a width list for Unet-like
// decoders, one number for DeepLabV3, DeepLabV3+ and PAN, refused where the decoder has none.

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-decoder-channels-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY = ['--synthetic', '24', '--encoder', 'slim-resnet', '--size', '32', '--batch-size', '4', '--lr', '0.003', '--epochs', '1', '--backend', 'wasm', '--quiet', '--no-report'];

/** The decoder arguments `busi train <argv>` builds its model with, through the command's own option table. */
function decoderArgs(argv: string[]): Record<string, unknown> {
  const { values } = parseCommandArgs(trainCommand, ['-o', path.join(tmp, 'unused'), ...TINY, ...argv]);
  const model = buildModel(runConfigFromOptions(values, { cwd: tmp, stdout: process.stdout, stderr: process.stderr }, 'train'));
  try {
    return model.getConfig().decoder.args;
  } finally {
    model.dispose();
  }
}

describe('--decoder-channels', () => {
  test('a number for decoders whose default is a number, a list for those whose default is a list', () => {
    expect(decoderArgs(['--decoder', 'deeplabv3', '--decoder-channels', '24']).decoderChannels).toBe(24);
    expect(decoderArgs(['--decoder', 'deeplabv3plus', '--decoder-channels', '24']).decoderChannels).toBe(24);
    expect(decoderArgs(['--decoder', 'pan', '--decoder-channels', '12']).decoderChannels).toBe(12);
    expect(decoderArgs(['--decoder', 'unet', '--decoder-channels', '16,16,8,8,8']).decoderChannels).toEqual([16, 16, 8, 8, 8]);
    expect(decoderArgs(['--decoder', 'manet', '--decoder-channels', '16,16,8,8,8']).decoderChannels).toEqual([16, 16, 8, 8, 8]);
    // Every registered decoder with a decoderChannels default takes a value of its shape.
    for (const { name, info } of decoders.catalogue()) {
      const fallback = info.defaults?.decoderChannels;
      if (fallback === undefined) continue;
      const given = Array.isArray(fallback) ? fallback.map(() => 8) : 8;
      expect([name, decoderArgs(['--decoder', name, '--decoder-channels', String(given)]).decoderChannels]).toEqual([name, given]);
    }
  });

  test('busi train deeplabv3 --decoder-channels 16 trains and saves a model with that width', async () => {
    const run = path.join(tmp, 'deeplab');
    const before = tf.memory().numTensors;
    const r = await cli(['train', '-o', run, ...TINY, '--decoder', 'deeplabv3', '--decoder-channels', '16'], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(readJson(path.join(run, 'config.json')).decoderChannels).toBe(16);
    const saved = readJson(path.join(run, 'best-model', 'model.json'));
    expect(saved.userDefinedMetadata.busi.decoder).toMatchObject({ name: 'deeplabv3', args: { decoderChannels: 16 } });
  });

  test.each([
    ['deeplabv3', '16,16,8,8,8', /--decoder-channels for deeplabv3 is one width \(default 256\); got 5 \(16,16,8,8,8\)/],
    ['pan', '8,8', /--decoder-channels for pan is one width \(default 32\); got 2/],
    ['unet', '64', /--decoder-channels for unet on slim-resnet is 5 widths, one per decoder block, deepest first \(default 256,128,64,32,16\); got 1 \(64\)/],
    ['unetplusplus', '64,32,16,16,8,8', /--decoder-channels for unetplusplus on slim-resnet is 5 widths.*got 6/],
    ['fpn', '64', /--decoder-channels does not apply to fpn: it has no decoderChannels option \(its widths: pyramidChannels 256, segmentationChannels 128\)/],
    ['linknet', '64', /--decoder-channels does not apply to linknet: .*prefinalChannels 32/],
    ['unet', '16,,8', /--decoder-channels must be positive integers separated by commas.*got '16,,8'/],
  ])('%s with --decoder-channels %s: a usage error naming the option and what the decoder takes, nothing written', async (decoder, value, err) => {
    const run = path.join(tmp, `bad-${decoder}`);
    const r = await cli(['train', '-o', run, ...TINY, '--decoder', decoder, '--decoder-channels', value], tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(err);
    expect(fs.existsSync(run)).toBe(false);
  });

  test("busi train --help lists each decoder's default widths from the registry", async () => {
    const r = await cli(['train', '--help'], tmp);
    expect(r.code).toBe(0);
    const line = r.out.split('\n').find((l) => l.includes('--decoder-channels')) ?? '';
    // smp v0.3.3's defaults, as the registry states them.
    expect(line).toMatch(/unet 256,128,64,32,16/);
    expect(line).toMatch(/deeplabv3 256/);
    expect(line).toMatch(/pan 32/);
    expect(line).toMatch(/fpn none/);
    for (const { name, info } of decoders.catalogue()) {
      expect(line).toContain(`${name} ${String(info.defaults?.decoderChannels ?? 'none')}`);
    }
  });
});
