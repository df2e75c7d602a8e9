import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '@busi/kernels';
import { decodeImage } from '@busi/data';
import { cli, readJson } from './helpers';

// The dataset beside the checkout (../shared/busi), as every other BUSI test looks for it.
const BUSI = process.env.BUSI_DATA ?? path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'busi', 'Dataset_BUSI_with_GT');
const present = fs.existsSync(path.join(BUSI, 'benign'));
if (!present) console.warn(`busi-real.test: skipped: no BUSI dataset at '${BUSI}' (set BUSI_DATA)`);
const maybe = present ? describe : describe.skip;

let tmp: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-real-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A BUSI-layout folder of symbolic links to the first `n` images (and their masks) of each class. */
function slice(n: number): string {
  const root = path.join(tmp, 'slice');
  for (const cls of ['benign', 'malignant', 'normal']) {
    fs.mkdirSync(path.join(root, cls), { recursive: true });
    for (let i = 1; i <= n; i++) {
      for (const f of fs.readdirSync(path.join(BUSI, cls)).filter((x) => x.startsWith(`${cls} (${i})`) && /^[^()]*\(\d+\)(_mask(_\d+)?)?\.png$/.test(x))) {
        fs.symlinkSync(path.join(BUSI, cls, f), path.join(root, cls, f));
      }
    }
  }
  return root;
}

maybe('busi train/evaluate/predict on a slice of the real BUSI dataset', () => {
  test('trains 1 epoch at 64 px, evaluates the test part, predicts an original image', async () => {
    const data = slice(6);
    const run = path.join(tmp, 'run');
    const t = await cli(['train', '--data', data, '-o', run, '--encoder', 'slim-resnet', '--decoder-channels', '16,16,8,8,8', '--size', '64', '--epochs', '1', '--batch-size', '4', '--backend', 'wasm', '--quiet'], tmp);
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    expect(t.out).toContain('18 images (6 benign, 6 malignant, 6 normal)');
    const split = readJson(path.join(run, 'split.json'));
    expect(split).toMatchObject({ groupDuplicates: true, duplicates: 'near' }); // the default
    const { train, validation, test } = split.folds[0];
    expect(train.length + validation.length + test.length).toBe(18);
    expect(train.filter((id: string) => test.includes(id) || validation.includes(id))).toEqual([]);
    const ev = readJson(path.join(run, 'evaluation', 'metrics.json'));
    expect(ev.images).toBe(split.folds[0].test.length);
    expect(ev.data).toContain('BUSI folder');
    const img = path.join(BUSI, 'malignant', 'malignant (1).png');
    const p = await cli(['predict', img, '-m', run, '-o', path.join(tmp, 'pred'), '--json'], tmp);
    expect(p.code).toBe(0);
    const [pred] = readJson(path.join(tmp, 'pred', 'predictions.json'));
    expect(pred.mask).toBe(path.join(tmp, 'pred', 'malignant (1)_mask.png'));
    const [mask, original] = await Promise.all([decodeImage(pred.mask), decodeImage(img)]);
    expect([mask.height, mask.width]).toEqual([original.height, original.width]);
  });
});
