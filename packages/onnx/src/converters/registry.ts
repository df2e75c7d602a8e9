import type { layers } from '@tensorflow/tfjs-layers';
import type { OnnxGraph } from '../graph';

type Layer = layers.Layer;

/** A tensor of the tfjs graph as it exists in the ONNX graph. */
export interface OnnxValue {
  /** Its ONNX name. */
  name: string;
  /** Its tfjs shape (channels last, `null` where dynamic). Rank-4 tensors are NCHW in ONNX. */
  shape: ReadonlyArray<number | null>;
}

/** What a converter gets for one call of one layer. */
export interface ConversionContext {
  /** The layer being converted. */
  layer: Layer;
  /** Its input tensors, in call order. */
  inputs: OnnxValue[];
  /** tfjs shapes of its outputs. */
  outputShapes: ReadonlyArray<ReadonlyArray<number | null>>;
  /** The graph to add nodes to. */
  graph: OnnxGraph;
}

/**
 * Emits the ONNX nodes of one layer call and returns the ONNX names of its outputs (an identity
 * layer may return its input's name). Inference semantics: training-only behaviour (dropout,
 * batch statistics) is not exported.
 */
export type LayerConverter = (ctx: ConversionContext) => string[];

const converters = new Map<string, LayerConverter>();

/**
 * Registers the ONNX converter of a layer class, keyed by its tfjs `className` (a new layer adds
 * one converter). Registering a taken class name is an error unless `replace` is set.
 * @example
 * ```ts
 * import { registerOnnxConverter } from '@busi/onnx';
 * registerOnnxConverter('MyTanh', ({ inputs, layer, graph }) => [graph.op('Tanh', [inputs[0].name], {}, layer.name)]);
 * ```
 */
export function registerOnnxConverter(className: string, converter: LayerConverter, replace = false): void {
  if (converters.has(className) && !replace) throw new Error(`registerOnnxConverter: '${className}' already has a converter`);
  converters.set(className, converter);
}

/** The converter of a layer class, or undefined. */
export function onnxConverter(className: string): LayerConverter | undefined {
  return converters.get(className);
}

/** Layer class names that have a converter, sorted. */
export function listOnnxConverters(): string[] {
  return [...converters.keys()].sort();
}
