import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import {
  BatchNorm2d,
  Conv2d,
  DropConnect,
  EncoderBase,
  UnusedWeights,
  heldBatchNorm2d,
  heldConv2d,
  isTorchMappable,
  type EncoderArgs,
  type Padding4,
  TORCH_DEFAULT_INIT,
  type InitSpec,
  type UnusedWeightSpec,
} from '@busi/core';
import { efficientNetArch, staticSamePadding, type EfficientNetArch, type EfficientNetVariant, type MBConvSpec } from './params';

/** Constructor arguments of {@link EfficientNetEncoder}. */
export interface EfficientNetEncoderArgs extends EncoderArgs {
  /** Registry name the encoder is built under, e.g. 'efficientnet-b4' (kept in its config). */
  name: string;
  /** The variant's scaling coefficients. */
  variant: EfficientNetVariant;
  /** Maximum drop-connect rate; block i of n drops with rate · i / n in training. 0 turns it off. Default 0.2. */
  dropConnectRate?: number;
  /**
   * Keep the unused `_conv_head` / `_bn1` weights that smp's encoder holds but never runs (and, at
   * depth < 5, the blocks past the last level), so the parameter count and state dict match the
   * reference (17,548,616 for B4). Default true.
   */
  keepHead?: boolean;
  /** Seed of the drop-connect masks (reproducible training). Default: unseeded. */
  seed?: number;
}

/** Defaults of the EfficientNet-specific options (also the registry entries' `defaults`). */
export const EFFICIENTNET_DEFAULTS = {
  /** efficientnet-pytorch's `drop_connect_rate` for every variant (the last block drops 20 % of its samples). */
  dropConnectRate: 0.2,
  /** smp's encoder keeps the head conv it never runs; keeping it matches smp's parameter count and state dict. */
  keepHead: true,
} as const;

// efficientnet-pytorch: batch_norm_momentum 0.99 (TF convention) is PyTorch momentum 0.01.
const BN = { eps: 1e-3, momentum: 0.01 };

/**
 * lukemelas' EfficientNet (efficientnet-pytorch 0.7.1) as smp 0.3.3's `efficientnet-b*` encoder:
 * the stem (conv 3×3 s2 → BN → swish) and MBConv blocks with squeeze-excitation, cut into five
 * levels at the stride changes. Paddings are TF-"same" computed once for the variant's native
 * resolution (`Conv2dStaticSamePadding`), not for the actual input. Layer names are the PyTorch
 * module paths (`encoder._blocks.3._depthwise_conv`).
 */
export class EfficientNetEncoder extends EncoderBase {
  /** Width/depth/resolution coefficients of the variant (b0…b7), as efficientnet-pytorch lists them. */
  readonly variant: EfficientNetVariant;
  /**
   * Every MBConv block resolved from the variant (filters, kernel, stride, padding), and the stage
   * boundaries.
   */
  readonly arch: EfficientNetArch;
  /** Maximum drop-connect rate in [0, 1); block i of n drops samples with rate · i / n in training. */
  readonly dropConnectRate: number;
  /** Whether the unused `_conv_head` / `_bn1` weights are held (smp's parameter count and state dict). */
  readonly keepHead: boolean;
  /**
   * Seed of the drop-connect masks, or undefined for unseeded masks (a seeded model or trainer passes one).
   */
  readonly seed?: number;
  /** EfficientNet-PyTorch runs no initialiser of its own: every module keeps PyTorch's default. */
  readonly initialization: InitSpec = TORCH_DEFAULT_INIT;
  private builtLayers: tfl.layers.Layer[] = [];

  constructor(args: EfficientNetEncoderArgs) {
    const arch = efficientNetArch(args.variant);
    const { blocks, stageEnds, stemFilters } = arch;
    super(args.name, args, [stemFilters, ...stageEnds.map((end) => blocks[end - 1].outFilters)]);
    this.variant = args.variant;
    this.arch = arch;
    this.dropConnectRate = args.dropConnectRate ?? EFFICIENTNET_DEFAULTS.dropConnectRate;
    this.keepHead = args.keepHead ?? EFFICIENTNET_DEFAULTS.keepHead;
    this.seed = args.seed;
    if (!(this.dropConnectRate >= 0 && this.dropConnectRate < 1)) {
      throw new Error(`${this.name}: dropConnectRate must be in [0, 1), got ${this.dropConnectRate}`);
    }
  }

  /**
   * Builds the stem and the MBConv blocks on `input`; returns the input and the five feature maps (strides 2
   * to 32).
   */
  apply(input: SymbolicTensor): SymbolicTensor[] {
    this.builtLayers = [];
    const p = this.prefix;
    const { blocks, stageEnds, resolution, stemFilters } = this.arch;
    const features: SymbolicTensor[] = [input];
    let x = this.add(
      new Conv2d({ name: `${p}._conv_stem`, filters: stemFilters, kernelSize: 3, strides: 2, useBias: false, padding: same(resolution, 3, 2) }),
      input,
    );
    x = this.add(new BatchNorm2d({ name: `${p}._bn0`, ...BN }), x);
    x = this.add(swish(`${p}._swish`), x);
    features.push(x);

    let start = 0;
    for (let level = 2; level <= this.depth; level++) {
      const end = stageEnds[level - 2];
      // smp make_dilated: a level past the output stride loses its stride and dilates (2 or 4) with padding (k//2)·rate.
      const dilation = this.dilationOf(level);
      for (let i = start; i < end; i++) x = this.block(x, blocks[i], dilation);
      start = end;
      features.push(x);
    }
    if (this.keepHead) features[features.length - 1] = this.attachHead(this.holdUnbuiltBlocks(features[features.length - 1], start));
    return features;
  }

  /** Trainable parameters of the last built encoder (builds a throwaway one if never applied). */
  countParams(): number {
    if (this.builtLayers.length === 0) this.apply(tfl.input({ shape: [null, null, this.inChannels] }));
    let n = 0;
    for (const layer of this.builtLayers) {
      if (!isTorchMappable(layer)) continue;
      for (const t of layer.torchParams()) if (t.variable.trainable) n += t.variable.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    }
    return n;
  }

  protected extraConfig(): Record<string, unknown> {
    const args: Record<string, unknown> = { dropConnectRate: this.dropConnectRate, keepHead: this.keepHead };
    if (this.seed !== undefined) args['seed'] = this.seed;
    return args;
  }

  private add(layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    this.builtLayers.push(layer);
    return layer.apply(x) as SymbolicTensor;
  }

  private block(input: SymbolicTensor, b: MBConvSpec, dilation: number): SymbolicTensor {
    const n = `${this.prefix}._blocks.${b.index}`;
    const dilate = dilation > 1;
    const stride = dilate ? 1 : b.stride;
    const padding = dilate ? Math.floor(b.kernel / 2) * dilation : same(b.imageSize, b.kernel, b.stride);
    let x = input;
    if (b.hasExpand) {
      x = this.add(new Conv2d({ name: `${n}._expand_conv`, filters: b.expanded, kernelSize: 1, useBias: false }), x);
      x = this.add(new BatchNorm2d({ name: `${n}._bn0`, ...BN }), x);
      x = this.add(swish(`${n}._swish0`), x);
    }
    x = this.add(
      new Conv2d({
        name: `${n}._depthwise_conv`,
        filters: b.expanded,
        kernelSize: b.kernel,
        strides: stride,
        dilation,
        padding,
        groups: b.expanded,
        useBias: false,
      }),
      x,
    );
    x = this.add(new BatchNorm2d({ name: `${n}._bn1`, ...BN }), x);
    x = this.add(swish(`${n}._swish1`), x);

    let s = this.add(tfl.layers.globalAveragePooling2d({ name: `${n}._se_pool`, dataFormat: 'channelsLast' }), x);
    s = this.add(tfl.layers.reshape({ name: `${n}._se_reshape`, targetShape: [1, 1, b.expanded] }), s);
    s = this.add(new Conv2d({ name: `${n}._se_reduce`, filters: b.squeezed, kernelSize: 1 }), s);
    s = this.add(swish(`${n}._se_swish`), s);
    s = this.add(new Conv2d({ name: `${n}._se_expand`, filters: b.expanded, kernelSize: 1 }), s);
    s = this.add(tfl.layers.activation({ name: `${n}._se_sigmoid`, activation: 'sigmoid' }), s);
    x = this.add(tfl.layers.multiply({ name: `${n}._se_scale` }), [s, x]);

    x = this.add(new Conv2d({ name: `${n}._project_conv`, filters: b.outFilters, kernelSize: 1, useBias: false }), x);
    x = this.add(new BatchNorm2d({ name: `${n}._bn2`, ...BN }), x);
    if (!b.skip) return x;
    const rate = (this.dropConnectRate * b.index) / this.arch.blocks.length;
    if (rate > 0) {
      const seed = this.seed === undefined ? undefined : this.seed + 1000 * b.index;
      x = this.add(new DropConnect({ name: `${n}._drop_connect`, rate, seed }), x);
    }
    return this.add(tfl.layers.add({ name: `${n}._residual` }), [x, input]);
  }

  // At depth < 5 smp's encoder still holds every block (it only stops running them): held as unused weights.
  private holdUnbuiltBlocks(x: SymbolicTensor, from: number): SymbolicTensor {
    for (const b of this.arch.blocks.slice(from)) {
      // One holder per module: tfjs weight names may not start with '_', as `_expand_conv.weight` would.
      const modules: Array<[string, UnusedWeightSpec[]]> = [
        ...(b.hasExpand
          ? ([
              ['_expand_conv', heldConv2d('', { kernelSize: 1, inChannels: b.inFilters, filters: b.expanded })],
              ['_bn0', heldBatchNorm2d('', b.expanded)],
            ] as Array<[string, UnusedWeightSpec[]]>)
          : []),
        ['_depthwise_conv', heldConv2d('', { kernelSize: b.kernel, inChannels: b.expanded, filters: b.expanded, groups: b.expanded })],
        ['_bn1', heldBatchNorm2d('', b.expanded)],
        ['_se_reduce', heldConv2d('', { kernelSize: 1, inChannels: b.expanded, filters: b.squeezed, bias: true })],
        ['_se_expand', heldConv2d('', { kernelSize: 1, inChannels: b.squeezed, filters: b.expanded, bias: true })],
        ['_project_conv', heldConv2d('', { kernelSize: 1, inChannels: b.expanded, filters: b.outFilters })],
        ['_bn2', heldBatchNorm2d('', b.outFilters)],
      ];
      for (const [module, held] of modules) x = this.add(new UnusedWeights({ name: `${this.prefix}._blocks.${b.index}.${module}`, held }), x);
    }
    return x;
  }

  // smp deletes only `_fc`: `_conv_head` and `_bn1` stay (never run) and count in the reference total.
  private attachHead(x: SymbolicTensor): SymbolicTensor {
    const p = this.prefix;
    const last = this.arch.blocks[this.arch.blocks.length - 1].outFilters;
    const c = this.arch.headFilters;
    x = this.add(new UnusedWeights({ name: `${p}._conv_head`, held: heldConv2d('', { kernelSize: 1, inChannels: last, filters: c }) }), x);
    return this.add(new UnusedWeights({ name: `${p}._bn1`, held: heldBatchNorm2d('', c) }), x);
  }
}

function same(size: number, kernel: number, stride: number): Padding4 {
  const [a, b] = staticSamePadding(size, kernel, stride);
  return [a, b, a, b];
}

function swish(name: string): tfl.layers.Layer {
  return tfl.layers.activation({ name, activation: 'swish' });
}
