import { Conv2d, Linear } from '@busi/core';
import { attr } from '../graph';
import { fromChannelsLast, toChannelsLast } from '../layout';
import { requireWeight, torchWeights } from '../weights';
import { registerOnnxConverter } from './registry';

// ONNX pads are [top, left, bottom, right]; busi's (PyTorch-style, possibly asymmetric) [top, bottom, left, right].
registerOnnxConverter(Conv2d.className, ({ layer, inputs, graph }) => {
  const conv = layer as Conv2d;
  const w = torchWeights(conv);
  const weight = requireWeight(w, 'weight', conv);
  const names = [inputs[0].name, graph.weight(weight.name, weight.values, weight.dims)];
  const bias = w.get('bias');
  if (bias) names.push(graph.weight(bias.name, bias.values, bias.dims));
  const [pt, pb, pl, pr] = conv.padding;
  return [
    graph.op('Conv', names, {
      kernel_shape: attr.ints(conv.kernelSize),
      strides: attr.ints(conv.strides),
      pads: attr.ints([pt, pl, pb, pr]),
      dilations: attr.ints([conv.dilation, conv.dilation]),
      group: attr.int(conv.groups),
    }, conv.name),
  ];
});

// Gemm for the classifier's [N, features] input; MatMul + Add on the last axis otherwise.
registerOnnxConverter(Linear.className, ({ layer, inputs, graph }) => {
  const w = torchWeights(layer);
  const weight = requireWeight(w, 'weight', layer);
  const bias = w.get('bias');
  const rank = inputs[0].shape.length;
  if (rank === 2) {
    const names = [inputs[0].name, graph.weight(weight.name, weight.values, weight.dims)];
    if (bias) names.push(graph.weight(bias.name, bias.values, bias.dims));
    return [graph.op('Gemm', names, { transB: attr.int(1) }, layer.name)];
  }
  const [out, inF] = weight.dims;
  const kernel = new Float32Array(weight.values.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) kernel[i * out + o] = weight.values[o * inF + i];
  const x = toChannelsLast(graph, inputs[0].name, rank, `${layer.name}/to_channels_last`);
  let y = graph.op('MatMul', [x, graph.weight(`${weight.name}.T`, kernel, [inF, out])], {}, `${layer.name}/matmul`);
  if (bias) y = graph.op('Add', [y, graph.weight(bias.name, bias.values, bias.dims)], {}, `${layer.name}/bias`);
  return [fromChannelsLast(graph, y, rank, layer.name)];
});

// PyTorch's ConvTranspose2d weight [in, out, kh, kw] is ONNX's; busi's padding p crops p on every side.
registerOnnxConverter('BusiConvTranspose2d', ({ layer, inputs, graph }) => {
  const config = layer.getConfig();
  const [k, s, p] = [Number(config['kernelSize']), Number(config['strides'] ?? 1), Number(config['padding'] ?? 0)];
  const w = torchWeights(layer);
  const weight = requireWeight(w, 'weight', layer);
  const names = [inputs[0].name, graph.weight(weight.name, weight.values, weight.dims)];
  const bias = w.get('bias');
  if (bias) names.push(graph.weight(bias.name, bias.values, bias.dims));
  return [graph.op('ConvTranspose', names, { kernel_shape: attr.ints([k, k]), strides: attr.ints([s, s]), pads: attr.ints([p, p, p, p]) }, layer.name)];
});
