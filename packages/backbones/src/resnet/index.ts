import { registerEncoder, type EncoderArgs } from '@busi/core';
import { ResNetEncoder, type ResNetSpec } from './resnet';

export * from './resnet';

/** Architecture facts of one registered ResNet-family variant. */
export type Variant = Omit<ResNetSpec, 'style'> & { params: number };

/** The torchvision ResNet family; `params` is the encoder's parameter count at 3 input channels, depth 5. */
export const RESNET_VARIANTS: Record<string, Variant> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], groups: 1, widthPerGroup: 64, params: 11_176_512 },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3], groups: 1, widthPerGroup: 64, params: 21_284_672 },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 1, widthPerGroup: 64, params: 23_508_032 },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 1, widthPerGroup: 64, params: 42_500_160 },
  resnet152: { block: 'bottleneck', layers: [3, 8, 36, 3], groups: 1, widthPerGroup: 64, params: 58_143_808 },
  resnext50_32x4d: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4, params: 22_979_904 },
  resnext101_32x4d: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 4, params: 42_128_704 },
  wide_resnet50_2: { block: 'bottleneck', layers: [3, 4, 6, 3], groups: 1, widthPerGroup: 128, params: 66_834_240 },
  wide_resnet101_2: { block: 'bottleneck', layers: [3, 4, 23, 3], groups: 1, widthPerGroup: 128, params: 124_837_696 },
};

/** Encoders smp reaches only through timm (`tu-<name>`): timm's module paths and dilation rule. */
const TIMM_ONLY = new Set(['wide_resnet50_2', 'wide_resnet101_2']);

/** Builds a ResNet-family encoder by registry name (with or without the `tu-` prefix). */
export function createResNetEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): ResNetEncoder {
  const timm = name.startsWith('tu-');
  const base = timm ? name.slice(3) : name;
  const variant = RESNET_VARIANTS[base];
  if (!variant) throw new Error(`unknown ResNet variant '${name}' (known: ${Object.keys(RESNET_VARIANTS).join(', ')})`);
  const { params: _p, ...arch } = variant;
  const style = timm || TIMM_ONLY.has(base) ? 'timm' : 'torchvision';
  return new ResNetEncoder({ ...args, name, spec: { ...arch, style } });
}

function register(name: string, variant: Variant): void {
  const expansion = variant.block === 'bottleneck' ? 4 : 1;
  registerEncoder(name, (args) => createResNetEncoder(name, args), {
    outChannels: [3, 64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion],
    family: 'resnet',
    params: variant.params,
  });
}

for (const [name, variant] of Object.entries(RESNET_VARIANTS)) {
  register(name, variant);
  // smp has no native Wide ResNet: its fixtures call it `tu-wide_resnet50_2`.
  if (TIMM_ONLY.has(name)) register(`tu-${name}`, variant);
}
