import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d, Resize } from '@busi/core';
import { bnRelu, conv2dReLU, separableConv2d } from './conv';
import { dropout } from './dropout';

/** Options of {@link aspp}. */
export interface AsppOptions {
  /** Output channels of every branch and of the projection. */
  channels: number;
  /** Dilation rates of the three 3×3 branches. */
  atrousRates: readonly [number, number, number];
  /** Depthwise-separable 3×3 branches (DeepLabV3+) or plain dilated convs (DeepLabV3). */
  separable: boolean;
  /** Dropout after the projection (smp fixes it at 0.5); 0 leaves the layer out. */
  dropout: number;
}

/**
 * smp's (torchvision's) `ASPP` module `<name>`: five parallel branches `convs.0..4` (1×1 conv,
 * three 3×3 convs dilated by `atrousRates`, image pooling) concatenated and projected by a 1×1
 * conv-BN-ReLU (`project`), then dropout. The image-pooling branch averages the whole map, applies
 * a 1×1 conv-BN-ReLU and resizes back bilinearly (align_corners false).
 */
export function aspp(x: SymbolicTensor, name: string, opts: AsppOptions): SymbolicTensor {
  const c = opts.channels;
  const branches = [conv2dReLU(x, `${name}.convs.0`, c, { kernelSize: 1 })];
  opts.atrousRates.forEach((rate, i) => {
    const n = `${name}.convs.${i + 1}`;
    if (opts.separable) branches.push(bnRelu(separableConv2d(x, `${n}.0`, c, rate), `${n}.1`, `${n}.2`));
    else branches.push(conv2dReLU(x, n, c, { kernelSize: 3, dilation: rate }));
  });
  const cin = x.shape[3];
  if (cin == null) throw new Error(`${name}: ASPP needs a known channel count`);
  const p = `${name}.convs.4`;
  let pool = layers.globalAveragePooling2d({ name: `${p}.0` }).apply(x) as SymbolicTensor;
  pool = layers.reshape({ name: `${p}.0.keepdims`, targetShape: [1, 1, cin] }).apply(pool) as SymbolicTensor;
  pool = new Conv2d({ name: `${p}.1`, filters: c, kernelSize: 1, useBias: false }).apply(pool) as SymbolicTensor;
  pool = bnRelu(pool, `${p}.2`, `${p}.3`);
  pool = new Resize({ name: `${p}.up`, mode: 'bilinear', alignCorners: false }).apply([pool, x]) as SymbolicTensor;
  branches.push(pool);
  const cat = layers.concatenate({ name: `${name}.cat`, axis: -1 }).apply(branches) as SymbolicTensor;
  const y = conv2dReLU(cat, `${name}.project`, c, { kernelSize: 1 });
  return dropout(y, `${name}.project.3`, opts.dropout);
}
