/**
 * Unet and Unet++ with smp's `decoder_attention_type='scse'` against frozen PyTorch fixtures
 * (fixtures/parity, made by tools/parity/generate.py; the decoder arguments come from each
 * fixture's `decoder_kwargs`): every scSE weight name and shape, outputs, encoder stages and every
 * gradient norm. The Unet's last block has no skip: smp builds its `attention1` but never runs it
 * (the fixture lists it as unused), and neither does busi.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import '@busi/backbones';
import '../src';
import { FIXTURES, expectParity, initParityBackend } from './helpers/parity';

beforeAll(async () => {
  await initParityBackend();
});

const cases: Array<[string, string, string]> = [
  ['Unet-scse', 'unet', 'efficientnet-b4'],
  ['UnetPlusPlus-scse', 'unetplusplus', 'efficientnet-b4'],
];

describe.each(cases)('%s__%s', (fixture, decoder, encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    await expectParity(fixture, decoder, encoder);
  });
});

test('the Unet fixture is smp with scse attention and holds the never-run attention1 of the skip-less last block', () => {
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'Unet-scse__efficientnet-b4.json'), 'utf8')) as {
    unused: string[];
    decoder_kwargs: Record<string, unknown>;
  };
  expect(json.decoder_kwargs).toEqual({ decoder_attention_type: 'scse' });
  const decoderUnused = json.unused.filter((n) => n.startsWith('decoder.'));
  expect(decoderUnused).toEqual(expect.arrayContaining(['decoder.blocks.4.attention1.attention.cSE.1.weight']));
  expect(decoderUnused.every((n) => n.startsWith('decoder.blocks.4.attention1.'))).toBe(true);
});
