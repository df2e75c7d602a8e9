import { attr } from '../graph';
import { registerOnnxConverter } from './registry';

/**
 * MAnet's position attention (smp's PAB core) on [top, center, bottom]: softmax over all position
 * pairs of center·topᵀ, applied to bottom. The layer's last step reinterprets the [N, HW, C] product
 * as [N, C, H, W] (smp's reshape), which is the graph's NCHW layout already.
 */
registerOnnxConverter('BusiPositionAttentionMap', ({ layer, inputs, graph }) => {
  const [top, center, bottom] = inputs;
  const p = top.shape[3];
  const c = bottom.shape[3];
  if (inputs.length !== 3 || p == null || c == null) throw new Error(`exportOnnx: '${layer.name}' needs [top, center, bottom] with known channels`);
  const n = layer.name;
  // [N, P, HW] from NCHW; the positions-major [N, HW, P] is its transpose.
  const topFlat = graph.op('Reshape', [top.name, graph.int64([0, p, -1])], {}, `${n}/top`);
  const centerFlat = graph.op('Transpose', [graph.op('Reshape', [center.name, graph.int64([0, p, -1])], {}, `${n}/center_cf`)], { perm: attr.ints([0, 2, 1]) }, `${n}/center`);
  const scores = graph.op('MatMul', [centerFlat, topFlat], {}, `${n}/scores`); // [N, HW, HW]
  const flat = graph.op('Reshape', [scores, graph.int64([0, -1])], {}, `${n}/scores_flat`);
  const soft = graph.op('Softmax', [flat], { axis: attr.int(1) }, `${n}/softmax`);
  const weights = graph.op('Reshape', [soft, graph.op('Shape', [scores], {}, `${n}/scores_shape`)], {}, `${n}/weights`);
  const bottomFlat = graph.op('Transpose', [graph.op('Reshape', [bottom.name, graph.int64([0, c, -1])], {}, `${n}/bottom_cf`)], { perm: attr.ints([0, 2, 1]) }, `${n}/bottom`);
  const attended = graph.op('MatMul', [weights, bottomFlat], {}, `${n}/attended`); // [N, HW, C]
  return [graph.op('Reshape', [attended, graph.op('Shape', [bottom.name], {}, `${n}/bottom_shape`)], {}, n)];
});
