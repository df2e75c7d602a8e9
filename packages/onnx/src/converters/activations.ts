import type { OnnxGraph } from '../graph';
import { attr } from '../graph';
import { onnxAxis } from '../layout';
import { registerOnnxConverter } from './registry';

type Emit = (graph: OnnxGraph, x: string, name: string, rank: number) => string;

const unary = (op: string): Emit => (graph, x, name) => graph.op(op, [x], {}, name);

function clip(graph: OnnxGraph, x: string, name: string, min: number, max: number): string {
  return graph.op('Clip', [x, graph.weight(`${name}.min`, Float32Array.of(min), []), graph.weight(`${name}.max`, Float32Array.of(max), [])], {}, name);
}

/** tfjs activation identifiers → ONNX (opset 17 has no Swish: it is composed). */
const ACTIVATIONS: Record<string, Emit> = {
  linear: unary('Identity'),
  relu: unary('Relu'),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  elu: unary('Elu'),
  selu: unary('Selu'),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  relu6: (graph, x, name) => clip(graph, x, name, 0, 6),
  // tfjs: clip(0.2·x + 0.5, 0, 1).
  hardSigmoid: (graph, x, name) => graph.op('HardSigmoid', [x], { alpha: attr.float(0.2), beta: attr.float(0.5) }, name),
  swish: (graph, x, name) => graph.op('Mul', [x, graph.op('Sigmoid', [x], {}, `${name}/sigmoid`)], {}, name),
  softmax: (graph, x, name, rank) => graph.op('Softmax', [x], { axis: attr.int(onnxAxis(-1, rank)) }, name),
};

registerOnnxConverter('Activation', ({ layer, inputs, graph }) => {
  const id = String(layer.getConfig()['activation']);
  const emit = ACTIVATIONS[id];
  if (!emit) throw new Error(`exportOnnx: activation '${id}' of layer '${layer.name}' has no ONNX equivalent here (known: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return [emit(graph, inputs[0].name, layer.name, inputs[0].shape.length)];
});

registerOnnxConverter('ReLU', ({ layer, inputs, graph }) => {
  const maxValue = layer.getConfig()['maxValue'];
  if (maxValue == null) return [graph.op('Relu', [inputs[0].name], {}, layer.name)];
  return [clip(graph, inputs[0].name, layer.name, 0, Number(maxValue))];
});

registerOnnxConverter('Softmax', ({ layer, inputs, graph }) => {
  const axis = Number(layer.getConfig()['axis'] ?? -1);
  return [graph.op('Softmax', [inputs[0].name], { axis: attr.int(onnxAxis(axis, inputs[0].shape.length)) }, layer.name)];
});

registerOnnxConverter('LeakyReLU', ({ layer, inputs, graph }) => {
  const alpha = Number(layer.getConfig()['alpha'] ?? 0.3);
  return [graph.op('LeakyRelu', [inputs[0].name], { alpha: attr.float(alpha) }, layer.name)];
});
