/**
 * UPerNet against frozen fixtures of smp 0.4.0's UPerNet decoder on smp v0.3.3's encoders
 * (fixtures/parity, input 2×3×64×96, made with tools/parity/with_upernet.py): weight names and
 * shapes, parameter counts, eval outputs and encoder stages for every encoder; training outputs
 * and every parameter's gradient norm for resnet50 and efficientnet-b4. ResNeXt-50 and Wide
 * ResNet-50-2 carry the same decoder as ResNet-50 (equal channel lists) and their encoders' training
 * passes are proven with Unet, so their training check would add minutes of CI for no new code
 * path. wasm with the busi training kernels; unregistered encoders are skipped.
 */
import '@busi/backbones';
import '../src';
import { FULL_PARITY_ENCODERS, expectParity, fixtureEncoders, initParityBackend } from './helpers/parity';

beforeAll(async () => {
  await initParityBackend();
});

const encoders = fixtureEncoders('UPerNet', 'parity');

test('fixtures are present for the four paper encoders', () => {
  expect(encoders.sort()).toEqual(['efficientnet-b4', 'resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2']);
});

describe.each(encoders)('UPerNet__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages (and gradient norms on resnet50 / efficientnet-b4)', async () => {
    await expectParity('UPerNet', 'upernet', encoder, { dir: 'parity', full: FULL_PARITY_ENCODERS.includes(encoder) });
  });
});
