import { BatchNorm2d, GroupNorm } from '@busi/core';
import { attr } from '../graph';
import { requireWeight, torchWeights } from '../weights';
import { registerOnnxConverter } from './registry';

// Inference: the running statistics (ONNX's channel axis 1 is busi's last axis for ranks 2 and 4).
registerOnnxConverter(BatchNorm2d.className, ({ layer, inputs, graph }) => {
  const rank = inputs[0].shape.length;
  if (rank !== 2 && rank !== 4) throw new Error(`exportOnnx: BatchNorm2d '${layer.name}' on a rank-${rank} tensor is not supported (ranks 2 and 4 are)`);
  const w = torchWeights(layer);
  const names = ['weight', 'bias', 'running_mean', 'running_var'].map((s) => {
    const p = requireWeight(w, s, layer);
    return graph.weight(p.name, p.values, p.dims);
  });
  return [graph.op('BatchNormalization', [inputs[0].name, ...names], { epsilon: attr.float((layer as BatchNorm2d).eps) }, layer.name)];
});

// Opset 17 has no GroupNormalization: each sample's groups become the channels of a
// [N, G, C/G·H·W] tensor, which InstanceNormalization normalises; then the per-channel affine.
registerOnnxConverter(GroupNorm.className, ({ layer, inputs, graph }) => {
  const gn = layer as GroupNorm;
  const [, , , c] = inputs[0].shape;
  if (inputs[0].shape.length !== 4 || c == null) throw new Error(`exportOnnx: GroupNorm '${gn.name}' needs an NHWC input with known channels`);
  const x = inputs[0].name;
  const g = gn.groups;
  const grouped = graph.op('Reshape', [x, graph.int64([0, g, -1])], {}, `${gn.name}/group`);
  const ones = graph.weight(`${gn.name}.group_scale`, new Float32Array(g).fill(1), [g]);
  const zeros = graph.weight(`${gn.name}.group_shift`, new Float32Array(g), [g]);
  const normed = graph.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: attr.float(gn.eps) }, `${gn.name}/normalize`);
  const shape = graph.op('Shape', [x], {}, `${gn.name}/shape`);
  let y = graph.op('Reshape', [normed, shape], {}, gn.affine ? `${gn.name}/ungroup` : gn.name);
  if (gn.affine) {
    const w = torchWeights(gn);
    const gamma = requireWeight(w, 'weight', gn);
    const beta = requireWeight(w, 'bias', gn);
    y = graph.op('Mul', [y, graph.weight(gamma.name, gamma.values, [c, 1, 1])], {}, `${gn.name}/scale`);
    y = graph.op('Add', [y, graph.weight(beta.name, beta.values, [c, 1, 1])], {}, gn.name);
  }
  return [y];
});
