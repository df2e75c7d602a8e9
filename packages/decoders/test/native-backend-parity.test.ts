/**
 * The paper's models on the 'native' backend (tensors in JS memory, the path past wasm's 4 GiB
 * heap) against the frozen PyTorch fixtures: outputs, encoder stages, training-mode outputs and
 * every gradient norm, with a flat tensor count (expectParity). One fixture per decoder, the
 * cheapest that together reach every kind of layer: plain and grouped (ResNeXt) bottlenecks,
 * EfficientNet's depthwise and squeeze-excite blocks, and DeepLabV3+'s dilated depthwise and
 * separable ASPP convs (Wide ResNet-50 runs the same kernels as ResNet-50, only wider, at twice the
 * cost). All 16 run on wasm in the per-decoder parity tests, and every native kernel is checked on
 * this backend in @busi/kernels' native-kernels test. Skipped, with the reason, when the native
 * addon is not built.
 */
import { loadNativeAddon, nativeAddonStatus } from '@busi/node';
import { expectParity, initParityBackend } from './helpers/parity';

const built = loadNativeAddon() != null;
if (!built) console.log(`parity on the native backend skipped: busi native addon ${nativeAddonStatus().reason}`);
const describeBuilt = built ? describe : describe.skip;

/** Fixture name (`<smp decoder>__<smp encoder>`) and the decoder's registry name. */
const CASES: Array<[fixture: string, registryDecoder: string]> = [
  ['Unet__resnet50', 'unet'],
  ['FPN__resnext50_32x4d', 'fpn'],
  ['UnetPlusPlus__efficientnet-b4', 'unetplusplus'],
  ['DeepLabV3Plus__efficientnet-b4', 'deeplabv3plus'],
];

describeBuilt("parity on the 'native' backend", () => {
  beforeAll(async () => {
    await initParityBackend('native');
  });

  test.each(CASES)('%s matches the PyTorch reference (every gradient norm)', async (fixture, registryDecoder) => {
    const [smpDecoder, smpEncoder] = fixture.split('__');
    await expectParity(smpDecoder, registryDecoder, smpEncoder, { full: true });
  });
});
