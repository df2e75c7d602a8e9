/**
 * DeepLabV3 (encoder at output stride 8) against frozen smp v0.3.3 fixtures (fixtures/parity-zoo/decoders, one per encoder there): weight names
 * and shapes, parameter counts, eval and training outputs, encoder stages and every parameter's
 * gradient norm, within the tolerances of fixtures/parity/README.md. wasm with the busi training
 * kernels; unregistered encoders are skipped.
 */
import '@busi/backbones';
import '../src';
import { expectParity, fixtureEncoders, initParityBackend } from './helpers/parity';

beforeAll(async () => {
  await initParityBackend();
});

const encoders = fixtureEncoders('DeepLabV3', 'parity-zoo/decoders');

test('fixtures are present', () => {
  expect(encoders.length).toBeGreaterThan(0);
});

describe.each(encoders)('DeepLabV3__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    await expectParity('DeepLabV3', 'deeplabv3', encoder, { dir: 'parity-zoo/decoders' });
  });
});
