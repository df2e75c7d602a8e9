/** The compound-scaling coefficients of one lukemelas EfficientNet variant. */
export interface EfficientNetVariant {
  /** Channel multiplier. */
  width: number;
  /** Block-repeat multiplier. */
  depth: number;
  /** Native image size: the static "same" paddings are computed for it. */
  resolution: number;
  /** Classifier dropout of the ImageNet model (unused by the encoder; kept for reference). */
  dropout: number;
  /** smp's `stage_idxs` where they differ from the stride changes (only B0). Default: derived. */
  stageEnds?: [number, number, number, number];
}

/** efficientnet-pytorch 0.7.1 `efficientnet_params` (width, depth, resolution, dropout). */
export const EFFICIENTNET_VARIANTS: Record<string, EfficientNetVariant> = {
  // smp cuts B0's stride-16 level after block 8, two blocks early (stage_idxs (3, 5, 9, 16)): blocks 9
  // and 10 then run inside level 5 (and are dilated at OS16). Reproduced as is.
  'efficientnet-b0': { width: 1.0, depth: 1.0, resolution: 224, dropout: 0.2, stageEnds: [3, 5, 9, 16] },
  'efficientnet-b1': { width: 1.0, depth: 1.1, resolution: 240, dropout: 0.2 },
  'efficientnet-b2': { width: 1.1, depth: 1.2, resolution: 260, dropout: 0.3 },
  'efficientnet-b3': { width: 1.2, depth: 1.4, resolution: 300, dropout: 0.3 },
  'efficientnet-b4': { width: 1.4, depth: 1.8, resolution: 380, dropout: 0.4 },
  'efficientnet-b5': { width: 1.6, depth: 2.2, resolution: 456, dropout: 0.4 },
  'efficientnet-b6': { width: 1.8, depth: 2.6, resolution: 528, dropout: 0.5 },
  'efficientnet-b7': { width: 2.0, depth: 3.1, resolution: 600, dropout: 0.5 },
};

/** One row of the B0 block table (`r1_k3_s11_e1_i32_o16_se0.25`, ...), before scaling. */
interface BaseStage {
  repeats: number;
  kernel: number;
  stride: number;
  expand: number;
  inFilters: number;
  outFilters: number;
}

const B0_STAGES: readonly BaseStage[] = [
  { repeats: 1, kernel: 3, stride: 1, expand: 1, inFilters: 32, outFilters: 16 },
  { repeats: 2, kernel: 3, stride: 2, expand: 6, inFilters: 16, outFilters: 24 },
  { repeats: 2, kernel: 5, stride: 2, expand: 6, inFilters: 24, outFilters: 40 },
  { repeats: 3, kernel: 3, stride: 2, expand: 6, inFilters: 40, outFilters: 80 },
  { repeats: 3, kernel: 5, stride: 1, expand: 6, inFilters: 80, outFilters: 112 },
  { repeats: 4, kernel: 5, stride: 2, expand: 6, inFilters: 112, outFilters: 192 },
  { repeats: 1, kernel: 3, stride: 1, expand: 6, inFilters: 192, outFilters: 320 },
];

const SE_RATIO = 0.25;
const DEPTH_DIVISOR = 8;
const STEM_FILTERS = 32;
const HEAD_FILTERS = 1280;

/** efficientnet-pytorch `round_filters`: scale by width, round to a multiple of 8, never down by more than 10%. */
export function roundFilters(filters: number, width: number): number {
  const scaled = filters * width;
  let rounded = Math.max(DEPTH_DIVISOR, Math.floor((scaled + DEPTH_DIVISOR / 2) / DEPTH_DIVISOR) * DEPTH_DIVISOR);
  if (rounded < 0.9 * scaled) rounded += DEPTH_DIVISOR;
  return rounded;
}

/** efficientnet-pytorch `round_repeats`: ceil(depth · repeats). */
export function roundRepeats(repeats: number, depth: number): number {
  return Math.ceil(depth * repeats);
}

/** One MBConv block, fully resolved. */
export interface MBConvSpec {
  /** Index in `_blocks`. */
  index: number;
  /** Channels of the block input (the stage's scaled width; the previous block's output after the first). */
  inFilters: number;
  /** Channels of the block output (after the projection conv). */
  outFilters: number;
  /** Channels after the expansion conv (`inFilters · expand`). */
  expanded: number;
  /** Whether an `_expand_conv` exists (expand ratio ≠ 1). */
  hasExpand: boolean;
  /** Side of the depthwise kernel (3 or 5). */
  kernel: number;
  /** Stride of the depthwise conv: 2 on the first block of a downsampling stage, else 1. */
  stride: number;
  /** Squeeze-excitation width: max(1, int(inFilters · 0.25)) (on the block input, as lukemelas does). */
  squeezed: number;
  /** Spatial size of the block input at the native resolution (for the static padding). */
  imageSize: number;
  /** Identity skip (stride 1, in == out). */
  skip: boolean;
}

/** The resolved architecture of a variant. */
export interface EfficientNetArch {
  /** Channels of the stem conv (32 scaled by the width coefficient), the stride-2 feature. */
  stemFilters: number;
  /** Channels of the `_conv_head` (1280 scaled), held but not run by the encoder. */
  headFilters: number;
  /** Every MBConv block in `_blocks` order, repeats expanded. */
  blocks: MBConvSpec[];
  /** End index (exclusive) of the blocks of feature levels 2..5 (smp's `stage_idxs`). */
  stageEnds: [number, number, number, number];
  /** Native image size of the stem input. */
  resolution: number;
}

/** Output size of a static-"same" conv at the native resolution (efficientnet-pytorch `calculate_output_image_size`). */
function outSize(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

/** Resolves a variant into its blocks as efficientnet-pytorch 0.7.1 builds them. */
export function efficientNetArch(v: EfficientNetVariant): EfficientNetArch {
  const blocks: MBConvSpec[] = [];
  let image = outSize(v.resolution, 2);
  for (const stage of B0_STAGES) {
    const inF = roundFilters(stage.inFilters, v.width);
    const outF = roundFilters(stage.outFilters, v.width);
    const repeats = roundRepeats(stage.repeats, v.depth);
    for (let r = 0; r < repeats; r++) {
      const inFilters = r === 0 ? inF : outF;
      const stride = r === 0 ? stage.stride : 1;
      blocks.push({
        index: blocks.length,
        inFilters,
        outFilters: outF,
        expanded: inFilters * stage.expand,
        hasExpand: stage.expand !== 1,
        kernel: stage.kernel,
        stride,
        squeezed: Math.max(1, Math.floor(inFilters * SE_RATIO)),
        imageSize: image,
        skip: stride === 1 && inFilters === outF,
      });
      image = outSize(image, stride);
    }
  }
  // A feature level ends right before the next stride-2 block (the first one opens level 2).
  const strided = blocks.filter((b) => b.stride > 1).map((b) => b.index);
  if (strided.length !== 4) throw new Error(`EfficientNet: expected 4 stride-2 blocks, found ${strided.length}`);
  const stageEnds: [number, number, number, number] = v.stageEnds ?? [strided[1], strided[2], strided[3], blocks.length];
  return {
    stemFilters: roundFilters(STEM_FILTERS, v.width),
    headFilters: roundFilters(HEAD_FILTERS, v.width),
    blocks,
    stageEnds,
    resolution: v.resolution,
  };
}

/**
 * TF-"same" padding [before, after] of a conv for an input of the FIXED size `size` (not the
 * actual input): efficientnet-pytorch's `Conv2dStaticSamePadding`.
 */
export function staticSamePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const pad = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(pad / 2), pad - Math.floor(pad / 2)];
}

/**
 * Trainable parameters of the encoder (BatchNorm scale and shift count; running statistics do not),
 * computed from the architecture. `keepHead` adds the never-run `_conv_head` / `_bn1`.
 */
export function efficientNetParamCount(arch: EfficientNetArch, inChannels = 3, keepHead = true): number {
  let n = inChannels * 9 * arch.stemFilters + 2 * arch.stemFilters;
  for (const b of arch.blocks) {
    if (b.hasExpand) n += b.inFilters * b.expanded + 2 * b.expanded;
    n += b.expanded * b.kernel * b.kernel + 2 * b.expanded;
    n += 2 * b.expanded * b.squeezed + b.squeezed + b.expanded;
    n += b.expanded * b.outFilters + 2 * b.outFilters;
  }
  if (keepHead) {
    const last = arch.blocks[arch.blocks.length - 1].outFilters;
    n += last * arch.headFilters + 2 * arch.headFilters;
  }
  return n;
}
