import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { TORCH_CONV2D, TORCH_CONV2D_BACKPROP_FILTER, TORCH_CONV2D_BACKPROP_INPUT } from '@busi/core';
import type { WasmBackendLike } from '../wasm/kernel-scope';
import type { NativeAddon } from './addon';
import { empty, float32, geometry, heap, isNHWC, zeroFill, type Fallback, type KernelTarget } from './kernel-utils';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/**
 * The native convolution kernels: dense Conv2D and both gradients, core's TORCH_CONV2D kernels
 * (grouped and dilated convs), depthwise convs with their gradients, and the max-pool gradient.
 */
export function convKernelConfigs(addon: NativeAddon, fallback: Fallback, target: KernelTarget): KernelConfig[] {
  /** Allocates the output, then runs one addon conv into it. */
  const run = (backend: WasmBackendLike, kind: Parameters<NativeAddon['conv']>[0], a: TensorInfo, b: TensorInfo, outShape: number[], g: Int32Array, groups = 1): TensorInfo => {
    const out = backend.makeOutput([...outShape], 'float32');
    // Views after makeOutput: an allocation may grow (and so replace) the wasm memory buffer.
    addon.conv(kind, heap(backend, a), heap(backend, b), heap(backend, out), g, groups);
    return out;
  };
  /** The output shape [n, oh, ow, co] of a geometry vector. */
  const outputShape = (g: Int32Array): number[] => [g[0], g[7], g[8], g[6]];

  const conv2D: tf.KernelFunc = (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!isNHWC(attrs) || !float32(x, filter)) return fallback(tf.Conv2D)(args);
    const backend = target.view(args.backend);
    const g = geometry(x.shape, filter.shape, attrs, attrs.dilations);
    if (empty(x.shape) || empty(filter.shape) || empty(outputShape(g))) return zeroFill(backend, backend.makeOutput(outputShape(g), 'float32'));
    return run(backend, 0, x, filter, outputShape(g), g);
  };

  const conv2DBackpropInput: tf.KernelFunc = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!isNHWC(attrs) || !float32(dy, filter)) return fallback(tf.Conv2DBackpropInput)(args);
    const backend = target.view(args.backend);
    const inputShape = attrs.inputShape as number[];
    const g = geometry(inputShape, filter.shape, attrs, attrs.dilations);
    if (empty(dy.shape) || empty(filter.shape) || empty(inputShape)) return zeroFill(backend, backend.makeOutput([...inputShape], 'float32'));
    return run(backend, 1, dy, filter, inputShape, g);
  };

  const conv2DBackpropFilter: tf.KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!isNHWC(attrs) || !float32(x, dy)) return fallback(tf.Conv2DBackpropFilter)(args);
    const backend = target.view(args.backend);
    const filterShape = attrs.filterShape as number[];
    const g = geometry(x.shape, filterShape, attrs, attrs.dilations);
    if (empty(x.shape) || empty(dy.shape) || empty(filterShape)) return zeroFill(backend, backend.makeOutput([...filterShape], 'float32'));
    return run(backend, 2, x, dy, filterShape, g);
  };

  // Core's TORCH_CONV2D kernels: grouped and/or dilated convs (tfjs cannot train either), depthwise
  // included; filter [kh, kw, ci/groups, co]. A depthwise filter [kh, kw, 1, C] has the memory
  // order of [kh, kw, C, 1], so it goes to the depthwise kinds as it is.
  const torchConvGeometry = (xShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise: boolean): Int32Array =>
    depthwise
      ? geometry(xShape, [filterShape[0], filterShape[1], xShape[3], 1], attrs, attrs.dilations, true)
      : geometry(xShape, [filterShape[0], filterShape[1], xShape[3], filterShape[3]], attrs, attrs.dilations);
  const groupsOf = (attrs: NamedAttrMap, ci: number, co: number, kernel: string): { groups: number; depthwise: boolean } => {
    const groups = Number(attrs.groups ?? 1);
    if (!Number.isInteger(groups) || groups < 1 || ci % groups !== 0 || co % groups !== 0) {
      throw new Error(`${kernel}: groups=${attrs.groups} must divide ${ci} input and ${co} output channels`);
    }
    return { groups, depthwise: groups > 1 && groups === ci && groups === co };
  };
  const torchConvForward: tf.KernelFunc = (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    const { groups, depthwise } = groupsOf(attrs, x.shape[3], filter.shape[3], TORCH_CONV2D);
    const backend = target.view(args.backend);
    const g = torchConvGeometry(x.shape, filter.shape, attrs, depthwise);
    return run(backend, depthwise ? 3 : 0, x, filter, outputShape(g), g, depthwise ? 1 : groups);
  };
  const torchConvBackpropInput: tf.KernelFunc = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    const inputShape = attrs.inputShape as number[];
    const { groups, depthwise } = groupsOf(attrs, inputShape[3], filter.shape[3], TORCH_CONV2D_BACKPROP_INPUT);
    const backend = target.view(args.backend);
    const g = torchConvGeometry(inputShape, filter.shape, attrs, depthwise);
    return run(backend, depthwise ? 4 : 1, dy, filter, inputShape, g, depthwise ? 1 : groups);
  };
  const torchConvBackpropFilter: tf.KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs ?? {};
    const filterShape = attrs.filterShape as number[];
    const { groups, depthwise } = groupsOf(attrs, x.shape[3], filterShape[3], TORCH_CONV2D_BACKPROP_FILTER);
    const backend = target.view(args.backend);
    const g = torchConvGeometry(x.shape, filterShape, attrs, depthwise);
    return run(backend, depthwise ? 5 : 2, x, dy, filterShape, g, depthwise ? 1 : groups);
  };

  // Depthwise convolutions with channel multiplier 1 (EfficientNet's); others fall back.
  const depthwiseForward: tf.KernelFunc = (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!isNHWC(attrs) || !float32(x, filter) || filter.shape[3] !== 1 || empty(x.shape)) return fallback(tf.DepthwiseConv2dNative)(args);
    const backend = target.view(args.backend);
    const g = geometry(x.shape, filter.shape, attrs, attrs.dilations, true);
    return run(backend, 3, x, filter, outputShape(g), g);
  };

  const depthwiseBackpropInput: tf.KernelFunc = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs ?? {};
    const inputShape = attrs.inputShape as number[];
    if (!isNHWC(attrs) || !float32(dy, filter) || filter.shape[3] !== 1 || empty(inputShape)) return fallback(tf.DepthwiseConv2dNativeBackpropInput)(args);
    const backend = target.view(args.backend);
    const g = geometry(inputShape, filter.shape, attrs, attrs.dilations, true);
    return run(backend, 4, dy, filter, inputShape, g);
  };

  const depthwiseBackpropFilter: tf.KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs ?? {};
    const filterShape = attrs.filterShape as number[];
    if (!isNHWC(attrs) || !float32(x, dy) || filterShape[3] !== 1 || empty(x.shape)) return fallback(tf.DepthwiseConv2dNativeBackpropFilter)(args);
    const backend = target.view(args.backend);
    const g = geometry(x.shape, filterShape, attrs, attrs.dilations, true);
    return run(backend, 5, x, dy, filterShape, g);
  };

  const maxPoolGrad: tf.KernelFunc = (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const attrs = args.attrs ?? {};
    if (!float32(dy, input) || input.shape.length !== 4 || empty(input.shape)) return fallback(tf.MaxPoolGrad)(args);
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], attrs.filterSize as [number, number] | number,
      attrs.strides as [number, number] | number, 1, attrs.pad as Pad, attrs.dimRoundingMode as Rounding,
    );
    const [n, h, w, c] = input.shape;
    const g = Int32Array.from([
      n, h, w, c, info.filterHeight, info.filterWidth, c, info.outHeight, info.outWidth,
      info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left,
    ]);
    return run(target.view(args.backend), 6, dy, input, input.shape, g);
  };

  return [
    { kernelName: TORCH_CONV2D, backendName: target.backendName, kernelFunc: torchConvForward },
    { kernelName: TORCH_CONV2D_BACKPROP_INPUT, backendName: target.backendName, kernelFunc: torchConvBackpropInput },
    { kernelName: TORCH_CONV2D_BACKPROP_FILTER, backendName: target.backendName, kernelFunc: torchConvBackpropFilter },
    { kernelName: tf.Conv2D, backendName: target.backendName, kernelFunc: conv2D },
    { kernelName: tf.Conv2DBackpropInput, backendName: target.backendName, kernelFunc: conv2DBackpropInput },
    { kernelName: tf.Conv2DBackpropFilter, backendName: target.backendName, kernelFunc: conv2DBackpropFilter },
    { kernelName: tf.DepthwiseConv2dNative, backendName: target.backendName, kernelFunc: depthwiseForward },
    { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: target.backendName, kernelFunc: depthwiseBackpropInput },
    { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: target.backendName, kernelFunc: depthwiseBackpropFilter },
    { kernelName: tf.MaxPoolGrad, backendName: target.backendName, kernelFunc: maxPoolGrad },
  ];
}
