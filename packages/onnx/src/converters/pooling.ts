import { MaxPool2d } from '@busi/core';
import { attr } from '../graph';
import { registerOnnxConverter, type ConversionContext } from './registry';

// ONNX MaxPool ignores padded cells, which is busi's -inf padding.
registerOnnxConverter(MaxPool2d.className, ({ layer, inputs, graph }) => {
  const pool = layer as MaxPool2d;
  const [pt, pb, pl, pr] = pool.padding;
  return [
    graph.op('MaxPool', [inputs[0].name], {
      kernel_shape: attr.ints(pool.poolSize),
      strides: attr.ints(pool.strides),
      pads: attr.ints([pt, pl, pb, pr]),
    }, pool.name),
  ];
});

function globalPool(op: 'ReduceMean' | 'ReduceMax') {
  return ({ layer, inputs, graph }: ConversionContext): string[] => {
    const config = layer.getConfig();
    if (config['dataFormat'] === 'channelsFirst') throw new Error(`exportOnnx: '${layer.name}' pools channels-first tensors; busi's graphs are channels-last`);
    // [N, C, H, W] → [N, C]; opset 17 still takes the axes as an attribute.
    return [graph.op(op, [inputs[0].name], { axes: attr.ints([2, 3]), keepdims: attr.int(config['keepDims'] ? 1 : 0) }, layer.name)];
  };
}
registerOnnxConverter('GlobalAveragePooling2D', globalPool('ReduceMean'));
registerOnnxConverter('GlobalMaxPooling2D', globalPool('ReduceMax'));
