import { initializers, layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  BatchNorm2d,
  Conv2d,
  EncoderBase,
  MaxPool2d,
  TIMM_BASIC_RESNET_INIT,
  TIMM_BOTTLENECK_RESNET_INIT,
  TORCHVISION_RESNET_INIT,
  UnusedWeights,
  heldBatchNorm2d,
  heldConv2d,
  type EncoderArgs,
  type UnusedWeightSpec,
  type InitSpec,
} from '@busi/core';

/** Which implementation's module paths and dilation rule an encoder reproduces. */
export type ResNetStyle = 'torchvision' | 'timm';

/** The fixed architecture of one ResNet variant. */
export interface ResNetSpec {
  /** Residual block type. */
  block: 'basic' | 'bottleneck';
  /** Blocks in layer1..layer4. */
  layers: [number, number, number, number];
  /** Channel groups of every 3×3 conv (32 for ResNeXt). */
  groups: number;
  /** Channels per group at layer1 (64 plain, 4 for ResNeXt 32x4d, 128 for Wide ResNet-2). */
  widthPerGroup: number;
  /**
   * 'torchvision': smp's native encoders (`encoder.conv1`; OS16 dilates every 3×3 conv of layer4).
   * 'timm': smp's `tu-*` encoders (`encoder.model.conv1`; OS16 leaves layer4 block 0's conv2 undilated).
   */
  style: ResNetStyle;
}

/** Constructor arguments of {@link ResNetEncoder}. */
export interface ResNetEncoderArgs extends EncoderArgs {
  /** Registry name the encoder is built under (kept in its config). */
  name: string;
  /** The architecture. */
  spec: ResNetSpec;
}

const STAGE_PLANES = [64, 128, 256, 512] as const;

/**
 * A torchvision / timm ResNet, ResNeXt or Wide ResNet as smp's encoder: the stem (conv1 → bn1 → relu,
 * stride 2), maxpool + layer1 (stride 4), layer2..layer4 (strides 8, 16, 32); `fc` and the final pool are
 * absent. Every layer is named by its PyTorch module path so state dicts map one to one.
 */
export class ResNetEncoder extends EncoderBase {
  /**
   * Which ResNet: block type and counts, groups and width (ResNeXt, wide), and torchvision or timm naming.
   */
  readonly spec: ResNetSpec;

  constructor(args: ResNetEncoderArgs) {
    const expansion = args.spec.block === 'bottleneck' ? 4 : 1;
    super(args.name, args, [64, ...STAGE_PLANES.map((p) => p * expansion)]);
    this.spec = args.spec;
  }

  /** torchvision's init for smp's own ResNets; timm's (last BN of each block at zero) for `tu-` ones. */
  get initialization(): InitSpec {
    if (this.spec.style === 'torchvision') return TORCHVISION_RESNET_INIT;
    return this.spec.block === 'bottleneck' ? TIMM_BOTTLENECK_RESNET_INIT : TIMM_BASIC_RESNET_INIT;
  }

  /** Module path of the ResNet itself: smp wraps timm models in `.model`. */
  private get root(): string {
    return this.spec.style === 'timm' ? `${this.prefix}.model` : this.prefix;
  }

  /**
   * Builds the stem and the four stages on `input`; returns the input and the five feature maps (strides 2 to
   * 32).
   */
  apply(input: SymbolicTensor): SymbolicTensor[] {
    const root = this.root;
    const features: SymbolicTensor[] = [input];
    let x = conv(`${root}.conv1`, 64, 7, 2, 3).apply(input) as SymbolicTensor;
    x = bn(`${root}.bn1`).apply(x) as SymbolicTensor;
    x = relu(`${root}.${this.spec.style === 'timm' ? 'act1' : 'relu'}`).apply(x) as SymbolicTensor;
    features.push(x);
    if (this.depth === 1) return this.holdUnbuiltStages(features);
    x = new MaxPool2d({ name: `${root}.maxpool`, poolSize: 3, strides: 2, padding: 1 }).apply(x) as SymbolicTensor;

    let inplanes = 64;
    const expansion = this.spec.block === 'bottleneck' ? 4 : 1;
    for (let stage = 0; stage < this.depth - 1; stage++) {
      const planes = STAGE_PLANES[stage];
      const dilate = this.dilates(stage + 2);
      const dilation = this.dilationOf(stage + 2);
      for (let b = 0; b < this.spec.layers[stage]; b++) {
        const first = b === 0;
        const nominalStride = first && stage > 0 ? 2 : 1;
        // smp's make_dilated sets every conv of a dilated stage to its rate; timm keeps the conv that
        // enters it (block 0's first 3×3) at the previous stage's rate.
        const firstDilation = dilate && first && this.spec.style === 'timm' ? this.dilationOf(stage + 1) : dilation;
        x = this.block(`${root}.layer${stage + 1}.${b}`, x, {
          planes,
          stride: dilate ? 1 : nominalStride,
          firstDilation,
          dilation,
          downsample: first && (nominalStride !== 1 || inplanes !== planes * expansion),
        });
        inplanes = planes * expansion;
      }
      features.push(x);
    }
    return this.holdUnbuiltStages(features);
  }

  /**
   * smp's torchvision encoders keep every stage at depth < 5 (only timm's `features_only` prunes), so
   * the stages past the last level are held as unused weights, one holder per stage, on the last feature.
   */
  private holdUnbuiltStages(features: SymbolicTensor[]): SymbolicTensor[] {
    if (this.spec.style !== 'torchvision' || this.depth >= 5) return features;
    const { groups, widthPerGroup, block } = this.spec;
    const expansion = block === 'bottleneck' ? 4 : 1;
    let x = features[features.length - 1];
    for (let stage = this.depth - 1; stage < 4; stage++) {
      const planes = STAGE_PLANES[stage];
      const out = planes * expansion;
      let cin = stage === 0 ? 64 : STAGE_PLANES[stage - 1] * expansion;
      const held: UnusedWeightSpec[] = [];
      for (let b = 0; b < this.spec.layers[stage]; b++) {
        const conv = (m: string, k: number, i: number, f: number, g = 1) => held.push(...heldConv2d(`${b}.${m}`, { kernelSize: k, inChannels: i, filters: f, groups: g }));
        const norm = (m: string, c: number) => held.push(...heldBatchNorm2d(`${b}.${m}`, c));
        if (block === 'basic') {
          conv('conv1', 3, cin, planes);
          norm('bn1', planes);
          conv('conv2', 3, planes, planes);
          norm('bn2', planes);
        } else {
          const width = Math.floor(planes * (widthPerGroup / 64)) * groups;
          conv('conv1', 1, cin, width);
          norm('bn1', width);
          conv('conv2', 3, width, width, groups);
          norm('bn2', width);
          conv('conv3', 1, width, out);
          norm('bn3', out);
        }
        if (b === 0 && (stage > 0 || cin !== out)) {
          conv('downsample.0', 1, cin, out);
          norm('downsample.1', out);
        }
        cin = out;
      }
      x = new UnusedWeights({ name: `${this.root}.layer${stage + 1}`, held }).apply(x) as SymbolicTensor;
    }
    return [...features.slice(0, -1), x];
  }

  private block(
    path: string,
    x: SymbolicTensor,
    o: { planes: number; stride: number; firstDilation: number; dilation: number; downsample: boolean },
  ): SymbolicTensor {
    const { groups, widthPerGroup, block } = this.spec;
    const { planes, stride, firstDilation, dilation } = o;
    const act = (i: number) => relu(`${path}.${this.spec.style === 'timm' ? 'act' : 'relu'}${i}`);
    let y: SymbolicTensor;
    let outPlanes: number;
    if (block === 'basic') {
      outPlanes = planes;
      y = conv(`${path}.conv1`, planes, 3, stride, firstDilation, firstDilation).apply(x) as SymbolicTensor;
      y = bn(`${path}.bn1`).apply(y) as SymbolicTensor;
      y = act(1).apply(y) as SymbolicTensor;
      y = conv(`${path}.conv2`, planes, 3, 1, dilation, dilation).apply(y) as SymbolicTensor;
      y = bn(`${path}.bn2`).apply(y) as SymbolicTensor;
    } else {
      outPlanes = planes * 4;
      const width = Math.floor(planes * (widthPerGroup / 64)) * groups;
      y = conv(`${path}.conv1`, width, 1, 1, 0).apply(x) as SymbolicTensor;
      y = bn(`${path}.bn1`).apply(y) as SymbolicTensor;
      y = act(1).apply(y) as SymbolicTensor;
      y = conv(`${path}.conv2`, width, 3, stride, firstDilation, firstDilation, groups).apply(y) as SymbolicTensor;
      y = bn(`${path}.bn2`).apply(y) as SymbolicTensor;
      y = act(2).apply(y) as SymbolicTensor;
      y = conv(`${path}.conv3`, outPlanes, 1, 1, 0).apply(y) as SymbolicTensor;
      y = bn(`${path}.bn3`).apply(y) as SymbolicTensor;
    }
    let shortcut = x;
    if (o.downsample) {
      shortcut = conv(`${path}.downsample.0`, outPlanes, 1, stride, 0).apply(x) as SymbolicTensor;
      shortcut = bn(`${path}.downsample.1`).apply(shortcut) as SymbolicTensor;
    }
    y = layers.add({ name: `${path}.add` }).apply([y, shortcut]) as SymbolicTensor;
    return act(block === 'basic' ? 2 : 3).apply(y) as SymbolicTensor;
  }

  protected extraConfig(): Record<string, unknown> {
    return {};
  }
}

// torchvision initialises ResNet convs with kaiming_normal (fan_out, relu). The uniform law of the same
// variance is used because tfjs draws normal numbers ~30x slower, which dominates building a model.
const convInit = () => initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'uniform' });

function conv(
  name: string,
  filters: number,
  kernelSize: number,
  strides: number,
  padding: number,
  dilation = 1,
  groups = 1,
): Conv2d {
  return new Conv2d({
    name,
    filters,
    kernelSize,
    strides,
    padding,
    dilation,
    groups,
    useBias: false,
    kernelInitializer: convInit(),
  });
}

function bn(name: string): BatchNorm2d {
  return new BatchNorm2d({ name });
}

function relu(name: string) {
  return layers.reLU({ name });
}
