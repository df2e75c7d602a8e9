import { Resize } from '@busi/core';
import { attr, type AttributeValue } from '../graph';
import { registerOnnxConverter } from './registry';

/**
 * PyTorch `F.interpolate` as ONNX Resize: 'nearest' takes source index floor(dst · in/out)
 * (asymmetric coordinates, floor); bilinear uses align_corners or half-pixel centres, whose
 * negative source coordinates ONNX Runtime clamps to 0 as PyTorch does.
 */
function modeAttributes(r: Resize): Record<string, AttributeValue> {
  if (r.mode === 'nearest') return { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  return { mode: 'linear', coordinate_transformation_mode: r.alignCorners ? 'align_corners' : 'half_pixel' };
}

registerOnnxConverter(Resize.className, ({ layer, inputs, graph }) => {
  const r = layer as Resize;
  const x = inputs[0].name;
  if (r.scale != null) {
    const scales = graph.float32(`${r.name}.scales`, [1, 1, r.scale, r.scale]);
    return [graph.op('Resize', [x, '', scales], modeAttributes(r), r.name)];
  }
  if (inputs.length < 2) throw new Error(`exportOnnx: Resize '${r.name}' has no scale and no reference input`);
  // The target size is the reference's, known only at run time (dynamic input sizes).
  const batchChannels = graph.op('Shape', [x], { start: attr.int(0), end: attr.int(2) }, `${r.name}/batch_channels`);
  const spatial = graph.op('Shape', [inputs[1].name], { start: attr.int(2), end: attr.int(4) }, `${r.name}/reference_size`);
  const sizes = graph.op('Concat', [batchChannels, spatial], { axis: attr.int(0) }, `${r.name}/sizes`);
  return [graph.op('Resize', [x, '', '', sizes], modeAttributes(r), r.name)];
});
