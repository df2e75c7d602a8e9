import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d } from '@busi/core';

/** Options of {@link conv2dReLU}. */
export interface Conv2dReLUOptions {
  /** Square kernel size. Default 3. */
  kernelSize?: number;
  /** Symmetric zero padding. Default `dilation · (kernelSize − 1) / 2` (size-preserving). */
  padding?: number;
  /** Dilation rate. Default 1. */
  dilation?: number;
  /** Conv → BatchNorm → ReLU (true) or conv with bias → ReLU (false). Default true. */
  useBatchnorm?: boolean;
  /** Names of the conv, BatchNorm and ReLU under `name`, for a Sequential that holds them at other indices. Default ['0', '1', '2']. */
  names?: readonly [string, string, string];
}

/**
 * smp's `Conv2dReLU` (an `nn.Sequential` of conv, BatchNorm and ReLU): layers `<name>.0` (the conv,
 * biased only without BatchNorm), `<name>.1` (BatchNorm, absent when `useBatchnorm` is false, as
 * smp's Identity holds no weights) and `<name>.2`. Also the shape of torchvision's ASPP branches.
 */
export function conv2dReLU(x: SymbolicTensor, name: string, filters: number, opts: Conv2dReLUOptions = {}): SymbolicTensor {
  const kernelSize = opts.kernelSize ?? 3;
  const dilation = opts.dilation ?? 1;
  const useBn = opts.useBatchnorm ?? true;
  const [conv, bn, relu] = opts.names ?? ['0', '1', '2'];
  let y = new Conv2d({
    name: `${name}.${conv}`,
    filters,
    kernelSize,
    padding: opts.padding ?? (dilation * (kernelSize - 1)) / 2,
    dilation,
    useBias: !useBn,
  }).apply(x) as SymbolicTensor;
  if (useBn) y = new BatchNorm2d({ name: `${name}.${bn}` }).apply(y) as SymbolicTensor;
  return layers.reLU({ name: `${name}.${relu}` }).apply(y) as SymbolicTensor;
}

/** BatchNorm `bnName` then ReLU `reluName`: the tail of smp's `nn.Sequential(conv, BatchNorm2d, ReLU)` blocks. */
export function bnRelu(x: SymbolicTensor, bnName: string, reluName: string): SymbolicTensor {
  const y = new BatchNorm2d({ name: bnName }).apply(x) as SymbolicTensor;
  return layers.reLU({ name: reluName }).apply(y) as SymbolicTensor;
}

/**
 * smp's `SeparableConv2d` (3×3, no bias): depthwise `<name>.0` (dilated, padding = dilation) then
 * pointwise 1×1 `<name>.1`.
 */
export function separableConv2d(x: SymbolicTensor, name: string, filters: number, dilation = 1): SymbolicTensor {
  const cin = x.shape[3];
  if (cin == null) throw new Error(`${name}: a separable conv needs a known channel count`);
  const dw = new Conv2d({ name: `${name}.0`, filters: cin, kernelSize: 3, padding: dilation, dilation, groups: cin, useBias: false }).apply(
    x,
  ) as SymbolicTensor;
  return new Conv2d({ name: `${name}.1`, filters, kernelSize: 1, useBias: false }).apply(dw) as SymbolicTensor;
}
