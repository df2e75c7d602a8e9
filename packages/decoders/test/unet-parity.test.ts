/**
 * Unet × ResNet family against the frozen PyTorch fixtures (fixtures/parity): weight names and
 * shapes, parameter counts, eval outputs, encoder stages, training-mode outputs and every
 * parameter's gradient norm, each within the README's tolerances. Runs on wasm with the busi
 * training kernels (the cpu backend's conv filter gradient is far too slow for these models).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, runParityCheck } from '@busi/core';
import '@busi/backbones';
import '../src';
import { expectParity, initParityBackend } from './helpers/parity';

const FIXTURES = path.resolve(__dirname, '../../../fixtures/parity');

beforeAll(async () => {
  await initParityBackend();
});

describe.each(['resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2'])('Unet__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    const fixture = `Unet__${encoder}`;
    // The reference's training pass runs with every dropout at 0.
    const model = new MultiTaskModel({ encoder, decoder: 'unet', classificationHead: { dropout: 0 } });
    const before = tf.memory().numTensors;
    const report = await runParityCheck(model, {
      json: fs.readFileSync(path.join(FIXTURES, `${fixture}.json`), 'utf8'),
      safetensors: new Uint8Array(fs.readFileSync(path.join(FIXTURES, `${fixture}.safetensors`))),
    });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    console.log(report.summary);
    const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.err} > ${c.tolerance} ${c.note ?? ''}`);
    expect(failed).toEqual([]);
    // Every gradient was compared: one check per trainable parameter of the reference.
    expect(report.checks.filter((c) => c.name.startsWith('grad:')).length).toBe(193);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['eval.mask', 'train.label', 'encoder.5', 'grad.global']));
    expect(report.pass).toBe(true);
  });
});


// The EfficientNet-B4 Unet goes through the shared decoder parity helper (it switches drop-connect off).
test('Unet__efficientnet-b4 matches the PyTorch reference: outputs, encoder stages and every gradient norm', async () => {
  await expectParity('Unet', 'unet', 'efficientnet-b4');
});
