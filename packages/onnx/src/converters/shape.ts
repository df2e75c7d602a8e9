import { fromChannelsLast, toChannelsLast } from '../layout';
import { registerOnnxConverter } from './registry';

// tfjs Reshape's target excludes the batch axis. A [N, C] vector made [N, 1, 1, C] (squeeze-and-
// excitation) is [N, C, 1, 1] in ONNX; any other reshape goes through the tfjs layout.
registerOnnxConverter('Reshape', ({ layer, inputs, outputShapes, graph }) => {
  const target = (layer.getConfig()['targetShape'] as number[]).map(Number);
  const inRank = inputs[0].shape.length;
  const outRank = outputShapes[0].length;
  if (inRank === 2 && outRank === 4 && target[0] === 1 && target[1] === 1) {
    return [graph.op('Unsqueeze', [inputs[0].name, graph.int64([2, 3])], {}, layer.name)];
  }
  const x = toChannelsLast(graph, inputs[0].name, inRank, `${layer.name}/to_channels_last`);
  // 0 copies the (dynamic) batch dimension.
  const y = graph.op('Reshape', [x, graph.int64([0, ...target])], {}, outRank === 4 ? `${layer.name}/reshape` : layer.name);
  return [fromChannelsLast(graph, y, outRank, layer.name)];
});
