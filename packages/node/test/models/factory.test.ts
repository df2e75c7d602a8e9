import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { countMacs, encoders } from '@busi/core';
import { PAPER_MODELS, createModel, createPaperModel, findPaperModel } from '../../src/models/factory';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('PAPER_MODELS lists the 16 combinations with consistent reference counts', () => {
  expect(PAPER_MODELS).toHaveLength(16);
  expect(new Set(PAPER_MODELS.map((m) => m.id)).size).toBe(16);
  for (const m of PAPER_MODELS) {
    const p = m.params;
    expect(p.encoder + p.decoder + p.segmentationHead + p.classificationHead).toBe(p.total);
  }
  // Spot values from architectures.md's table.
  expect(findPaperModel('UnetPlusPlus__tu-wide_resnet50_2')!.params.total).toBe(92_318_100);
  expect(findPaperModel('FPN__efficientnet-b4')!.params.total).toBe(19_353_100);
  expect(findPaperModel('deeplabv3plus', 'efficientnet-b4')!.params.total).toBe(18_617_564);
  expect(findPaperModel('unet++', 'tu-wide_resnet50_2')!.id).toBe('UnetPlusPlus__tu-wide_resnet50_2');
});

// Build, count, dispose: cheap, but the 16 models hold up to 92 M weights each.
describe.each(PAPER_MODELS.map((m) => [m.id, m] as const))('%s', (_id, ref) => {
  it('has exactly the reference parameter counts and Conv/Linear MACs at 448²', () => {
    if (!encoders.has(ref.encoder)) {
      console.log(`${ref.id}: skipped, encoder '${ref.encoder}' is not registered`);
      return;
    }
    const before = tf.memory().numTensors;
    const model = createModel({ encoder: ref.smpEncoder, decoder: ref.smpDecoder, classes: 3 });
    const c = model.countParams();
    expect({
      total: c.total,
      encoder: c.encoder,
      decoder: c.decoder,
      segmentationHead: c.segmentationHead,
      classificationHead: c.classificationHead,
    }).toEqual({
      total: ref.params.total,
      encoder: ref.params.encoder,
      decoder: ref.params.decoder,
      segmentationHead: ref.params.segmentationHead,
      classificationHead: ref.params.classificationHead,
    });
    const macs = countMacs(model, [448, 448]);
    // The reference rounds to 2 decimals.
    expect(Math.abs(macs.total / 1e9 - ref.gmacs)).toBeLessThanOrEqual(0.0051);
    expect(Math.abs(macs.encoder / 1e9 - ref.encoderGmacs)).toBeLessThanOrEqual(0.0051);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('createModel resolves smp and busi spellings and reports unknown names', () => {
  expect(() => createModel({ encoder: 'resnet9000', decoder: 'unet' })).toThrow(/unknown encoder 'resnet9000'. Registered encoders: .*resnet50/);
  expect(() => createModel({ encoder: 'resnet50', decoder: 'segformer' })).toThrow(/unknown decoder 'segformer'. Registered decoders: .*fpn/);
  expect(() => createPaperModel('Linknet__resnet50')).toThrow(/unknown id/);
});

test('createModel passes options through (input channels, classes, decoder options)', () => {
  if (!encoders.has('efficientnet-b4')) return;
  const model = createModel({
    encoder: 'efficientnet-b4',
    decoder: { name: 'DeepLabV3Plus', dropout: 0.1 },
    classes: 2,
    inChannels: 1,
  });
  expect(model.config.decoder.name).toBe('deeplabv3plus');
  expect(model.config.decoder.args.dropout).toBe(0.1);
  expect(model.config.outputStride).toBe(16);
  expect(model.config.inChannels).toBe(1);
  // Shapes only: a forward pass of EfficientNet-B4 on the cpu backend is slow.
  expect(model.model.inputs[0].shape).toEqual([null, null, null, 1]);
  expect(model.model.outputs[0].shape).toEqual([null, null, null, 1]);
  expect(model.model.outputs[1].shape).toEqual([null, 2]);
  model.dispose();
});

test('countParams counts a frozen encoder in the total, not in the trainable part', () => {
  const model = createModel({ encoder: 'resnet18', decoder: 'unet', classes: 3 });
  const before = model.countParams();
  expect(before.trainable).toBe(before.total);
  // Freeze every encoder layer, as fine-tuning with a fixed backbone does.
  for (const layer of model.model.layers) if (layer.name.startsWith('encoder')) layer.trainable = false;
  const frozen = model.countParams();
  expect(frozen.total).toBe(before.total);
  expect(frozen.encoder).toBe(before.encoder);
  expect(frozen.trainable).toBe(before.total - before.encoder);
  model.dispose();
});
