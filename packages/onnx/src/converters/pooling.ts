import { MaxPool2d } from '@busi/core';
import { ELEMENT_TYPE, attr, type OnnxGraph } from '../graph';
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

/**
 * `[n, o]` averaging matrix of PyTorch's adaptive pooling along an axis whose length `n` is known
 * only at run time: bin i covers [floor(i·n/o), ceil((i+1)·n/o)).
 */
function adaptiveMatrix(graph: OnnxGraph, x: string, axis: 2 | 3, o: number, name: string): string {
  const f32 = attr.int(ELEMENT_TYPE.float32);
  const len = graph.op('Shape', [x], { start: attr.int(axis), end: attr.int(axis + 1) }, `${name}/length`); // [1] int64
  const lenF = graph.op('Cast', [len], { to: f32 }, `${name}/length_f`);
  const bins = graph.float32(`${name}.bins`, Array.from({ length: o }, (_, i) => i), [1, o]);
  const binsNext = graph.float32(`${name}.bins_next`, Array.from({ length: o }, (_, i) => i + 1), [1, o]);
  const oF = graph.float32(`${name}.bin_count`, [o], []);
  const start = graph.op('Floor', [graph.op('Div', [graph.op('Mul', [bins, lenF], {}, `${name}/start_scaled`), oF], {}, `${name}/start_frac`)], {}, `${name}/start`);
  const end = graph.op('Ceil', [graph.op('Div', [graph.op('Mul', [binsNext, lenF], {}, `${name}/end_scaled`), oF], {}, `${name}/end_frac`)], {}, `${name}/end`);
  // Row indices as a column [n, 1], compared with the [1, o] bin edges.
  const zero = graph.float32(`${name}.zero`, [0], []);
  const one = graph.float32(`${name}.one`, [1], []);
  const scalarLen = graph.op('Squeeze', [lenF, graph.int64([0])], {}, `${name}/length_scalar`);
  const rows = graph.op('Unsqueeze', [graph.op('Range', [zero, scalarLen, one], {}, `${name}/rows`), graph.int64([1])], {}, `${name}/row_column`);
  const inside = graph.op('And', [graph.op('GreaterOrEqual', [rows, start], {}, `${name}/after_start`), graph.op('Less', [rows, end], {}, `${name}/before_end`)], {}, `${name}/inside`);
  const weights = graph.op('Div', [graph.op('Cast', [inside], { to: f32 }, `${name}/mask`), graph.op('Sub', [end, start], {}, `${name}/bin_size`)], {}, `${name}/weights`);
  return graph.precision === 'float32' ? weights : graph.op('Cast', [weights], { to: attr.int(graph.elementType) }, `${name}/weights_cast`);
}

// Input sizes are dynamic, so the bins are built in the graph; outputSize 1 is a plain mean.
registerOnnxConverter('BusiAdaptiveAvgPool2d', ({ layer, inputs, graph }) => {
  const o = Number(layer.getConfig()['outputSize']);
  const x = inputs[0].name;
  if (o === 1) return [graph.op('ReduceMean', [x], { axes: attr.ints([2, 3]), keepdims: attr.int(1) }, layer.name)];
  const mw = adaptiveMatrix(graph, x, 3, o, `${layer.name}/width_bins`); // [W, o]
  const mh = adaptiveMatrix(graph, x, 2, o, `${layer.name}/height_bins`); // [H, o]
  const pooledW = graph.op('MatMul', [x, mw], {}, `${layer.name}/pool_width`); // [N, C, H, o]
  const mhT = graph.op('Transpose', [mh], { perm: attr.ints([1, 0]) }, `${layer.name}/height_bins_t`); // [o, H]
  return [graph.op('MatMul', [mhT, pooledW], {}, layer.name)]; // [N, C, o, o]
});
