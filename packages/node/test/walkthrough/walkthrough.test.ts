/**
 * Follows docs/architecture.md's "Add an encoder" and "Add a decoder" walkthroughs: the code blocks
 * there are these folders' files, verbatim (checked), and importing them is all it takes for the
 * new encoder and decoder to be known by name and alias, to build with every built-in partner, and
 * to pass the conformance suites every built-in encoder and decoder passes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createDecoder, decoders, encoders, listDecoders, listEncoders } from '@busi/core';
import { encoderConformanceChecks } from '@busi/backbones';
import { decoderConformanceChecks } from '@busi/decoders';
import { initBackend } from '@busi/kernels';
import { createModel } from '../../src/models/factory';
import { ToyVggEncoder } from './toy-vgg';
import { ToyFpnDecoder } from './toy-fpn';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const doc = fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

test.each(['toy-vgg', 'toy-fpn'])('docs/architecture.md shows %s/index.ts verbatim', (folder) => {
  const file = `packages/node/test/walkthrough/${folder}/index.ts`;
  const marker = `<!-- walkthrough file: ${file} -->`;
  expect(doc).toContain(marker);
  const block = /```ts\n([\s\S]*?)```/.exec(doc.slice(doc.indexOf(marker)))?.[1];
  expect(block).toBe(fs.readFileSync(path.join(root, file), 'utf8'));
});

test('one folder + one registry entry: known by name and alias, with the catalogue facts', () => {
  expect(listEncoders()).toContain('toy-vgg');
  expect(listDecoders()).toContain('toy-fpn');
  expect(encoders.resolve('toy_vgg')).toBe('toy-vgg');
  expect(decoders.resolve('toyfpn')).toBe('toy-fpn');
  expect(encoders.info('toy-vgg')).toMatchObject({ family: 'toy-vgg', params: 13_360, outChannels: [3, 8, 12, 16, 24, 32] });
  // The model factory reads the same registry: aliases work there too, with every built-in partner.
  const x = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
  for (const [encoder, decoder] of [['toy_vgg', 'toyfpn'], ['toy-vgg', 'unet'], ['toy-vgg', 'deeplabv3plus'], ['resnet18', 'toy-fpn']]) {
    const model = createModel({ encoder, decoder });
    const { mask, logits } = model.predict(x);
    expect(mask.shape).toEqual([1, 64, 64, 1]);
    expect(logits.shape).toEqual([1, 3]);
    tf.dispose([mask, logits]);
    model.dispose();
  }
  x.dispose();
  // The shared argument checks come with EncoderBase and DecoderBase, named by the entry; the rest each checks itself.
  expect(() => new ToyVggEncoder({ depth: 7 })).toThrow(/toy-vgg: depth must be an integer in 1..5/);
  expect(() => new ToyFpnDecoder({ encoderChannels: [3, 8] })).toThrow(/toy-fpn: needs an encoder of depth >= 2 \(a stride-4 feature\), got encoderChannels \[3, 8\]/);
  expect(() => new ToyFpnDecoder({ encoderChannels: [3, 8, 12], channels: 0 })).toThrow(/toy-fpn: channels must be a positive integer, got 0/);
  // DecoderBase keeps the config: every option, the defaults the entry lists filled in.
  expect(createDecoder('toyfpn', { encoderChannels: [3, 8, 12] }).getConfig()).toEqual({
    name: 'toy-fpn',
    args: { encoderChannels: [3, 8, 12], ...decoders.info('toy-fpn').defaults, prefix: 'decoder' },
  });
});

describe('the encoder conformance suite on toy-vgg', () => {
  test.each(encoderConformanceChecks('toy-vgg').map((c) => [c.name, c] as const))('%s', async (_name, check) => {
    await check.run();
  });
});

describe('the decoder conformance suite on toy-fpn', () => {
  test.each(decoderConformanceChecks('toy-fpn').map((c) => [c.name, c] as const))('%s', async (_name, check) => {
    await check.run();
  });
});
