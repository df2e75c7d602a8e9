import { attr } from '../graph';
import { onnxAxis } from '../layout';
import { registerOnnxConverter, type ConversionContext } from './registry';

/** A variadic tfjs merge as a chain of binary ONNX ops (ONNX broadcasting matches tfjs' for equal ranks). */
function chain(op: 'Add' | 'Mul' | 'Max' | 'Min' | 'Sub') {
  return ({ layer, inputs, graph }: ConversionContext): string[] => {
    const ranks = new Set(inputs.map((v) => v.shape.length));
    if (ranks.size !== 1) throw new Error(`exportOnnx: '${layer.name}' merges tensors of ranks ${[...ranks].join(', ')}; only equal ranks are supported`);
    let y = inputs[0].name;
    for (let i = 1; i < inputs.length; i++) y = graph.op(op, [y, inputs[i].name], {}, i === inputs.length - 1 ? layer.name : `${layer.name}/${i}`);
    return [y];
  };
}
registerOnnxConverter('Add', chain('Add'));
registerOnnxConverter('Multiply', chain('Mul'));
registerOnnxConverter('Maximum', chain('Max'));
registerOnnxConverter('Minimum', chain('Min'));
registerOnnxConverter('Subtract', chain('Sub'));

registerOnnxConverter('Concatenate', ({ layer, inputs, graph }) => {
  const rank = inputs[0].shape.length;
  const axis = onnxAxis(Number(layer.getConfig()['axis'] ?? -1), rank);
  return [graph.op('Concat', inputs.map((v) => v.name), { axis: attr.int(axis) }, layer.name)];
});
