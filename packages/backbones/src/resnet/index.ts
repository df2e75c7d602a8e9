import { encoders, registerEncoder, type EncoderArgs, type EncoderInfo } from '@busi/core';
import { ResNetEncoder, type ResNetSpec, type ResNetStyle } from './resnet';

export * from './resnet';

/** Architecture facts of one ResNet-family network. */
export type Variant = Omit<ResNetSpec, 'style'> & {
  /** Encoder parameter count at 3 input channels, depth 5 (equal to smp's; checked against the fixtures). */
  params: number;
};

/** The ResNet family's networks, by their torchvision / timm name. */
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

/** One registered ResNet-family encoder: which network, in which implementation's style. */
export interface ResNetEntry {
  /** Key of {@link RESNET_VARIANTS}. */
  variant: string;
  /**
   * 'torchvision' for smp's native encoders (`resnet50`), 'timm' for smp's `tu-` encoders, which
   * smp builds with `timm.create_model(..., features_only=True)`: their weights sit under
   * `encoder.model.*` and their OS16 dilation leaves layer4 block 0's conv2 at rate 1.
   */
  style: ResNetStyle;
  /** Other accepted names. */
  aliases?: readonly string[];
}

/**
 * The family's registry entries, keyed by smp's `encoder_name` (plain data; {@link resnetEncoderInfo}
 * derives the rest). smp has no native Wide ResNet, only timm's through `tu-`; busi's former names
 * `wide_resnet50_2` / `wide_resnet101_2` (timm's own names) stay as aliases.
 */
export const RESNET_ENCODERS: Readonly<Record<string, ResNetEntry>> = {
  resnet18: { variant: 'resnet18', style: 'torchvision' },
  resnet34: { variant: 'resnet34', style: 'torchvision' },
  resnet50: { variant: 'resnet50', style: 'torchvision' },
  resnet101: { variant: 'resnet101', style: 'torchvision' },
  resnet152: { variant: 'resnet152', style: 'torchvision' },
  resnext50_32x4d: { variant: 'resnext50_32x4d', style: 'torchvision' },
  resnext101_32x4d: { variant: 'resnext101_32x4d', style: 'torchvision' },
  'tu-resnet50': { variant: 'resnet50', style: 'timm' },
  'tu-resnext50_32x4d': { variant: 'resnext50_32x4d', style: 'timm' },
  'tu-wide_resnet50_2': { variant: 'wide_resnet50_2', style: 'timm', aliases: ['wide_resnet50_2'] },
  'tu-wide_resnet101_2': { variant: 'wide_resnet101_2', style: 'timm', aliases: ['wide_resnet101_2'] },
};

/** The catalogue facts of a {@link RESNET_ENCODERS} entry. */
export function resnetEncoderInfo(name: string, entry: ResNetEntry): EncoderInfo {
  const variant = RESNET_VARIANTS[entry.variant];
  const expansion = variant.block === 'bottleneck' ? 4 : 1;
  return {
    family: 'resnet',
    outChannels: [3, 64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion],
    params: variant.params,
    aliases: entry.aliases,
    reference: { library: 'smp', name, source: entry.style, sourceName: entry.variant },
    description: `${entry.variant}, ${entry.style} module paths and dilation rule`,
  };
}

/** Builds a ResNet-family encoder by registry name or alias (`resnet50`, `tu-wide_resnet50_2`, `wide_resnet50_2`). */
export function createResNetEncoder(name: string, args: EncoderArgs & Record<string, unknown> = {}): ResNetEncoder {
  const canonical = encoders.has(name) ? encoders.resolve(name) : name;
  const entry = RESNET_ENCODERS[canonical];
  if (!entry) throw new Error(`unknown ResNet encoder '${name}' (known: ${Object.keys(RESNET_ENCODERS).join(', ')})`);
  const { params: _p, ...arch } = RESNET_VARIANTS[entry.variant];
  return new ResNetEncoder({ ...args, name: canonical, spec: { ...arch, style: entry.style } });
}

for (const [name, entry] of Object.entries(RESNET_ENCODERS)) {
  registerEncoder(name, (args) => createResNetEncoder(name, args), resnetEncoderInfo(name, entry));
}
