/**
 * UnetPlusPlus × the four paper encoders against the frozen PyTorch fixtures (fixtures/parity): eval and
 * training outputs, encoder stages and every parameter's gradient norm, within the README's
 * tolerances (training and gradients for one encoder per family by default, see
 * FULL_PARITY_ENCODERS). wasm with the busi training kernels; unregistered encoders are skipped.
 */
import '@busi/backbones';
import '../src';
import { expectParity, fixtureEncoders, initParityBackend } from './helpers/parity';

beforeAll(async () => {
  await initParityBackend();
});

describe.each(fixtureEncoders('UnetPlusPlus'))('UnetPlusPlus__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    await expectParity('UnetPlusPlus', 'unetplusplus', encoder);
  });
});
