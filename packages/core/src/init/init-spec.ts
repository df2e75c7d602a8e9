/**
 * How the reference frameworks start a model's weights, as plain data. Each encoder and decoder
 * declares the spec its PyTorch counterpart uses; {@link initializeLikeReference} applies it.
 */

/**
 * How a conv or linear weight starts (PyTorch's `torch.nn.init` names; fans as PyTorch computes them:
 * conv fan_in = in/groups·kh·kw, fan_out = out·kh·kw).
 * - `torch-default`: what `nn.Conv2d` / `nn.Linear` do when nothing else runs, kaiming_uniform(a=√5):
 *   U(±1/√fan_in).
 * - `kaiming-normal-fan-out`: kaiming_normal(mode=fan_out, relu): N(0, 2/fan_out) (torchvision and timm ResNets).
 * - `kaiming-uniform-fan-in`: kaiming_uniform(mode=fan_in, relu): U(±√(6/fan_in)) (smp's `initialize_decoder`).
 * - `xavier-uniform`: U(±√(6/(fan_in+fan_out))) (smp's `initialize_head`, and Linear layers in its decoders).
 */
export type WeightInit = 'torch-default' | 'kaiming-normal-fan-out' | 'kaiming-uniform-fan-in' | 'xavier-uniform';

/** How conv and linear biases start: PyTorch's default U(±1/√fan_in), or zero. */
export type BiasInit = 'torch-default' | 'zeros';

/** The initialisation of one part of a model (encoder, decoder or heads). */
export interface InitSpec {
  /** Conv kernels. */
  conv: WeightInit;
  /** Linear (dense) weights. */
  linear: WeightInit;
  /** Conv and linear biases. */
  bias: BiasInit;
  /**
   * Norm-layer scales that start at zero instead of one, matched on the PyTorch name (timm's
   * `zero_init_last`: the last BatchNorm of every residual block). Absent: every scale starts at one.
   */
  zeroScales?: RegExp;
}

/** A model's initialisation: one spec per part. Norm layers always start at scale 1 (or 0, see `zeroScales`), shift 0. */
export interface ModelInitSpec {
  /** Layers under `encoder.`. */
  encoder: InitSpec;
  /** Layers under `decoder.`. */
  decoder: InitSpec;
  /** Layers under `segmentation_head.` and `classification_head.`. */
  heads: InitSpec;
}

/** Nothing but PyTorch's per-module defaults (EfficientNet-PyTorch; smp's DeepLabV3/V3+, which never call `initialize()`). */
export const TORCH_DEFAULT_INIT: InitSpec = { conv: 'torch-default', linear: 'torch-default', bias: 'torch-default' };

/** torchvision's ResNet / ResNeXt / Wide ResNet `__init__` (zero_init_residual=False, the default smp uses). */
export const TORCHVISION_RESNET_INIT: InitSpec = { conv: 'kaiming-normal-fan-out', linear: 'torch-default', bias: 'torch-default' };

/** timm's ResNet `init_weights(zero_init_last=True)` for bottleneck blocks: as torchvision, each block's `bn3` scale at zero. */
export const TIMM_BOTTLENECK_RESNET_INIT: InitSpec = { ...TORCHVISION_RESNET_INIT, zeroScales: /\.layer\d+\.\d+\.bn3\.weight$/ };

/** The same for basic blocks (resnet18/34): each block's `bn2` scale at zero. */
export const TIMM_BASIC_RESNET_INIT: InitSpec = { ...TORCHVISION_RESNET_INIT, zeroScales: /\.layer\d+\.\d+\.bn2\.weight$/ };

/** smp's `initialize_decoder`. */
export const SMP_DECODER_INIT: InitSpec = { conv: 'kaiming-uniform-fan-in', linear: 'xavier-uniform', bias: 'zeros' };

/** smp's `initialize_head`. */
export const SMP_HEAD_INIT: InitSpec = { conv: 'xavier-uniform', linear: 'xavier-uniform', bias: 'zeros' };

/**
 * The part of a {@link ModelInitSpec} a decoder declares ({@link Decoder.initialization}): its own and
 * the heads', since smp initialises the heads with the decoder; the encoder declares its own.
 */
export type DecoderInitSpec = Pick<ModelInitSpec, 'decoder' | 'heads'>;

/** What smp's `SegmentationModel.initialize()` does to decoder and heads (every smp model but DeepLabV3/V3+). */
export const SMP_DECODER_AND_HEADS_INIT: Readonly<DecoderInitSpec> = { decoder: SMP_DECODER_INIT, heads: SMP_HEAD_INIT };

/** Decoder and heads left at PyTorch's defaults (smp v0.3.3's DeepLabV3 and DeepLabV3+). */
export const TORCH_DEFAULT_DECODER_AND_HEADS_INIT: Readonly<DecoderInitSpec> = { decoder: TORCH_DEFAULT_INIT, heads: TORCH_DEFAULT_INIT };
