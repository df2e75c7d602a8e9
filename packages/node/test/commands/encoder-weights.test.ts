import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportStateDict, saveStateDictSafetensors, type StateDict, MultiTaskModel } from '@busi/core';
import { initBackend } from '@busi/kernels';
import { fileSystem } from '@busi/data';
import { buildModel } from '../../src/runs/train-run';
import { SMALL_RUN, cli } from './helpers';

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-encw-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('busi train --encoder-weights', () => {
  test('loads bare (torchvision-style) encoder names into the encoder; a file that does not fit is refused by name', async () => {
    const donor = buildModel({ encoder: 'slim-resnet', decoder: 'unet', decoderChannels: [16, 16, 8, 8, 8], dropout: 0.2, classNames: ['a', 'b', 'c'], seed: 0 });
    const full = exportStateDict(donor);
    donor.dispose();
    const bare: StateDict = new Map([...full].filter(([k]) => k.startsWith('encoder.')).map(([k, v]) => [k.slice('encoder.'.length), v]));
    bare.set('fc.weight', { shape: [10, 4], data: new Float32Array(40) }); // an ImageNet classifier is ignored
    const file = path.join(tmp, 'slim.safetensors');
    fs.writeFileSync(file, saveStateDictSafetensors(bare));

    const run = path.join(tmp, 'run');
    // lr 0: the trained model still holds the loaded kernels (BatchNorm running statistics do move).
    const r = await cli(['train', '-o', run, ...SMALL_RUN, '--epochs', '1', '--lr', '0', '--weight-decay', '0', '--encoder-weights', file, '--no-report'], tmp);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`loaded \\d+ pretrained weights from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const trained = await MultiTaskModel.load(fileSystem(path.join(run, 'best-model')));
    const after = exportStateDict(trained);
    trained.dispose();
    let kernels = 0;
    for (const [k, v] of bare) {
      if (v.shape.length !== 4) continue;
      expect(Array.from(after.get(`encoder.${k}`)!.data)).toEqual(Array.from(v.data));
      kernels++;
    }
    expect(kernels).toBeGreaterThan(5);

    const [dropped] = [...bare.keys()].filter((k) => k.endsWith('conv1.weight'));
    bare.delete(dropped);
    const bad = path.join(tmp, 'bad.safetensors');
    fs.writeFileSync(bad, saveStateDictSafetensors(bare));
    const e = await cli(['train', '-o', path.join(tmp, 'run2'), ...SMALL_RUN, '--epochs', '1', '--encoder-weights', bad], tmp);
    expect(e.code).toBe(1);
    expect(e.err).toContain(`--encoder-weights: '${bad}' does not fit encoder 'slim-resnet': 1 encoder weight missing (encoder.${dropped})`);
    expect(fs.existsSync(path.join(tmp, 'run2'))).toBe(false);
    const none = await cli(['train', '-o', path.join(tmp, 'run3'), ...SMALL_RUN, '--encoder-weights', 'nope.safetensors'], tmp);
    expect([none.code, none.err]).toEqual([2, expect.stringContaining(`--encoder-weights file '${path.join(tmp, 'nope.safetensors')}' not found`)]);
  });
});
