import type { ModelCard, MultiTaskModel } from '@busi/core';
import type { SymbolicTensor, layers } from '@tensorflow/tfjs-layers';
import type { onnx } from 'onnx-proto';
import { onnxProto } from './proto';
import { onnxConverter, type OnnxValue } from './converters/index';
import { ELEMENT_TYPE, OnnxGraph, attr, valueInfo, type OnnxPrecision } from './graph';
import { exportCard, metadataProps } from './metadata';

/** The opset busi writes: ONNX Runtime 1.14+ and every current onnxruntime-web run it. */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

/** Names of the exported graph's input and outputs. */
export const ONNX_NAMES = {
  /** The float input `[N, 3, H, W]` (or NHWC with `layout: 'NHWC'`), normalised as the model card says. */
  image: 'image',
  /** The mask output: per-pixel logits (sigmoid gives the tumour probability), same layout as the input. */
  mask: 'mask_logits',
  /** The classification output `[N, classes]`: logits (softmax gives the class probabilities). */
  logits: 'class_logits',
} as const;

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /**
   * Layout of the `image` input and the `mask_logits` output: 'NCHW' (ONNX's and PyTorch's
   * convention) or 'NHWC' (busi's). Default 'NCHW'.
   */
  layout?: 'NCHW' | 'NHWC';
  /**
   * 'float32' (default) or 'float16': weights and computation in half precision, for GPU runtimes
   * (half the file size). The input and outputs stay float32 (the graph casts).
   */
  precision?: OnnxPrecision;
  /**
   * The model card written to metadata_props (how to prepare an image, class names, threshold).
   * Default: the model's own card, else the one busi assumes for a model without one.
   */
  card?: ModelCard | null;
  /** Further metadata_props entries (string values). */
  metadata?: Record<string, string>;
}

/** The exported model and facts about it. */
export interface OnnxExport {
  /** The serialised ModelProto (an `.onnx` file's bytes). */
  bytes: Uint8Array;
  /** Number of graph nodes. */
  nodes: number;
  /** ONNX shape of the `image` input (`batch`, `height`, `width` are dynamic dimensions). */
  inputShape: Array<number | string>;
  /** The metadata_props written. */
  metadata: Record<string, string>;
}

type Layer = layers.Layer;

/**
 * Exports a busi model to ONNX (opset 17) for inference: input `image`, outputs `mask_logits`
 * (apply a sigmoid) and `class_logits` (apply a softmax), a dynamic batch dimension, and dynamic
 * height and width unless the model was built for a fixed input size. Each layer becomes ONNX
 * nodes through the converter registered for its class ({@link registerOnnxConverter}); a layer
 * without one is an error that names it. Training behaviour (dropout, stochastic depth, batch
 * statistics) is not exported: the graph computes `model.predict`.
 * @example
 * ```ts
 * import { exportOnnx } from '@busi/onnx';
 * import { writeFileSync } from 'node:fs';
 * const { bytes } = exportOnnx(model); // the model card goes into the metadata
 * writeFileSync('unet_resnet50.onnx', bytes);
 * ```
 */
export function exportOnnx(model: MultiTaskModel, options: OnnxExportOptions = {}): OnnxExport {
  const layout = options.layout ?? 'NCHW';
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new Error(`exportOnnx: layout must be 'NCHW' or 'NHWC', got '${String(layout)}'`);
  const precision = options.precision ?? 'float32';
  if (precision !== 'float32' && precision !== 'float16') throw new Error(`exportOnnx: precision must be 'float32' or 'float16', got '${String(precision)}'`);
  // Options are checked before the (slow) conversion.
  const metadata = { ...metadataProps(model, exportCard(model, options.card), layout, precision), ...(options.metadata ?? {}) };
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`exportOnnx: metadata '${k}' must be a string, got ${typeof v}`);
  }
  const tfModel = model.model;
  if (tfModel.inputs.length !== 1 || tfModel.outputs.length !== 2) {
    throw new Error(`exportOnnx: expected a model with one input and two outputs (mask, logits), got ${tfModel.inputs.length} and ${tfModel.outputs.length}`);
  }
  const graph = new OnnxGraph(precision);
  const input = tfModel.inputs[0];
  const [, h, w, c] = input.shape;
  const height = h ?? 'height';
  const width = w ?? 'width';
  const inputShape = layout === 'NCHW' ? ['batch', c!, height, width] : ['batch', height, width, c!];

  const values = new Map<number, OnnxValue>();
  let x = graph.reserve(ONNX_NAMES.image);
  if (layout === 'NHWC') x = graph.op('Transpose', [x], { perm: attr.ints([0, 3, 1, 2]) }, 'image/to_nchw');
  if (precision === 'float16') x = graph.op('Cast', [x], { to: attr.int(ELEMENT_TYPE.float16) }, 'image/to_float16');
  values.set(input.id, { name: x, shape: input.shape });
  convertGraph(tfModel.outputs, values, graph);

  const [maskTensor, logitsTensor] = tfModel.outputs;
  const mc = model.config.segmentationClasses;
  const outputs = [
    addOutput(graph, values.get(maskTensor.id)!.name, ONNX_NAMES.mask, layout === 'NHWC'),
    addOutput(graph, values.get(logitsTensor.id)!.name, ONNX_NAMES.logits, false),
  ];
  const outputShapes = [layout === 'NCHW' ? ['batch', mc, height, width] : ['batch', height, width, mc], ['batch', model.config.classes]];

  const proto = onnxProto.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'busi',
    docString: `${model.config.name}: busi multi-task model (segmentation and classification), inference graph`,
    graph: graph.toProto(
      model.config.name,
      [valueInfo(ONNX_NAMES.image, ELEMENT_TYPE.float32, inputShape)],
      outputs.map((name, i) => valueInfo(name, ELEMENT_TYPE.float32, outputShapes[i])),
    ),
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  const bytes = onnxProto.ModelProto.encode(proto).finish();
  return { bytes, nodes: graph.nodeCount, inputShape, metadata };
}

/** Writes graph output `name` from `value`: back to float32, and to NHWC for a mask when asked. */
function addOutput(graph: OnnxGraph, value: string, name: string, toNhwc: boolean): string {
  let v = value;
  if (graph.precision === 'float16') v = graph.op('Cast', [v], { to: attr.int(ELEMENT_TYPE.float32) }, `${name}/to_float32`);
  graph.reserve(name);
  if (toNhwc) graph.node('Transpose', [v], [name], { perm: attr.ints([0, 2, 3, 1]) }, `${name}/to_nhwc`);
  else graph.node('Identity', [v], [name], {}, `${name}/output`);
  return name;
}

/**
 * Converts every layer call the outputs depend on, inputs first. `values` maps a symbolic
 * tensor's id to its ONNX value; it holds the graph inputs on entry and every converted tensor on return.
 */
function convertGraph(outputs: SymbolicTensor[], values: Map<number, OnnxValue>, graph: OnnxGraph): void {
  // Iterative depth-first walk: encoders are deep enough to make recursion a risk.
  const stack: Array<{ tensor: SymbolicTensor; expanded: boolean }> = outputs.map((tensor) => ({ tensor, expanded: false }));
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (values.has(top.tensor.id)) {
      stack.pop();
      continue;
    }
    const layer = top.tensor.sourceLayer as Layer;
    const node = layer.inboundNodes[top.tensor.nodeIndex];
    if (!top.expanded) {
      top.expanded = true;
      if (node.inputTensors.length === 0) throw new Error(`exportOnnx: tensor '${top.tensor.name}' comes from '${layer.name}', which is not the model's input`);
      for (const t of node.inputTensors) if (!values.has(t.id)) stack.push({ tensor: t, expanded: false });
      continue;
    }
    stack.pop();
    convertLayerCall(layer, node.inputTensors, node.outputTensors, values, graph);
  }
}

function convertLayerCall(layer: Layer, inputs: SymbolicTensor[], outputs: SymbolicTensor[], values: Map<number, OnnxValue>, graph: OnnxGraph): void {
  const className = layer.getClassName();
  const converter = onnxConverter(className);
  if (!converter) {
    throw new Error(`exportOnnx: layer '${layer.name}' is a ${className}, which has no ONNX converter (register one with registerOnnxConverter('${className}', ...))`);
  }
  const names = converter({ layer, inputs: inputs.map((t) => values.get(t.id)!), outputShapes: outputs.map((t) => t.shape), graph });
  if (names.length !== outputs.length) {
    throw new Error(`exportOnnx: the ${className} converter returned ${names.length} outputs for layer '${layer.name}', which has ${outputs.length}`);
  }
  outputs.forEach((t, i) => values.set(t.id, { name: names[i], shape: t.shape }));
}
