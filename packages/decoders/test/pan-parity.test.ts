/**
 * PAN (encoder at output stride 16) against frozen smp v0.3.3 fixtures (fixtures/parity, one per encoder there): weight names
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

const encoders = fixtureEncoders('PAN', 'parity');

test('fixtures are present', () => {
  expect(encoders.length).toBeGreaterThan(0);
});

describe.each(encoders)('PAN__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    await expectParity('PAN', 'pan', encoder, { dir: 'parity' });
  });
});
