/**
 * MAnet (multi-scale attention) against frozen smp v0.3.3 fixtures (fixtures/parity-zoo/decoders, one per encoder there): weight names
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

const encoders = fixtureEncoders('MAnet', 'parity-zoo/decoders');

test('fixtures are present', () => {
  expect(encoders.length).toBeGreaterThan(0);
});

/**
 * On resnet50 and resnext50_32x4d the training pass is ill-conditioned: the position attention's
 * softmax over 12² position pairs of 2048-channel features saturates, and PyTorch's own float32
 * gradient norms are up to 16 % from float64 (174 entries above 1 %, `grad_norms_f32_spread` of the
 * resnet50 fixture), so the training outputs and gradients there are no test of busi. Eval outputs
 * and encoder stages are checked for them; the other two encoders get the full check.
 */
const ILL_CONDITIONED_TRAINING = ['resnet50', 'resnext50_32x4d'];

describe.each(encoders)('MAnet__%s', (encoder) => {
  it('matches the PyTorch reference: outputs, encoder stages and gradient norms', async () => {
    await expectParity('MAnet', 'manet', encoder, { dir: 'parity-zoo/decoders', full: !ILL_CONDITIONED_TRAINING.includes(encoder) });
  });
});
