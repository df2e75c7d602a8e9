import type * as tfl from '@tensorflow/tfjs-layers';
import type { Shape, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Conv2d } from '../layers/conv2d';
import { Linear } from '../layers/linear';
import type { MultiTaskModel } from './multi-task-model';

/** Multiply-accumulates of one weighted layer at batch 1. */
export interface LayerMacs {
  /** Layer name (PyTorch module path). */
  name: string;
  /** 'conv2d' or 'linear'. */
  kind: 'conv2d' | 'linear';
  /** Multiply-accumulates: `oh · ow · out · kh · kw · in/groups` for a conv, `in · out` for a linear layer. */
  macs: number;
}

/** Multiply-accumulates of a model at batch 1, split like {@link MultiTaskModel.countParams}. */
export interface MacCounts {
  /** All Conv2d and Linear MACs. GFLOPs in the usual sense are `2 · total / 1e9`. */
  total: number;
  /** MACs of the layers under `encoder.`. */
  encoder: number;
  /** MACs of the layers under `decoder.`. */
  decoder: number;
  /** MACs of the layers under `segmentation_head.`. */
  segmentationHead: number;
  /** MACs of the layers under `classification_head.`. */
  classificationHead: number;
  /** Per layer, in model order. */
  layers: LayerMacs[];
}

interface NodeLike {
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
}

/**
 * Counts the multiply-accumulates of every Conv2d and Linear layer for one `[H, W]` image, as the
 * reference does with forward hooks (BatchNorm, activations, pooling, SE products and resizing
 * excluded). Shapes are propagated through the graph with each layer's `computeOutputShape`, so
 * nothing is executed and a model built for any input size can be measured at any size.
 */
export function countMacs(model: MultiTaskModel | tfl.LayersModel, size: [number, number]): MacCounts {
  const net = ('model' in model ? model.model : model) as tfl.LayersModel;
  const shapes = new Map<number, Shape>();
  for (const input of net.inputs) shapes.set(input.id, [1, size[0], size[1], input.shape[3]]);
  const counts: MacCounts = { total: 0, encoder: 0, decoder: 0, segmentationHead: 0, classificationHead: 0, layers: [] };

  // Layers are in topological order; a node is this model's when its inputs are already known.
  for (const layer of net.layers) {
    const nodes = (layer as unknown as { inboundNodes: NodeLike[] }).inboundNodes;
    for (const node of nodes) {
      if (node.inputTensors.length === 0 || node.outputTensors.some((t) => shapes.has(t.id))) continue;
      if (!node.inputTensors.every((t) => shapes.has(t.id))) continue;
      const inShapes = node.inputTensors.map((t) => shapes.get(t.id)!);
      const out = layer.computeOutputShape(inShapes.length === 1 ? inShapes[0] : inShapes);
      const outShapes = (Array.isArray(out[0]) ? out : [out]) as Shape[];
      node.outputTensors.forEach((t, i) => shapes.set(t.id, outShapes[i]));
      const macs = layerMacs(layer, inShapes[0], outShapes[0]);
      if (macs) {
        counts.layers.push(macs);
        counts.total += macs.macs;
        const head = macs.name.split('.')[0];
        if (head === 'encoder') counts.encoder += macs.macs;
        else if (head === 'decoder') counts.decoder += macs.macs;
        else if (head === 'segmentation_head') counts.segmentationHead += macs.macs;
        else if (head === 'classification_head') counts.classificationHead += macs.macs;
      }
    }
  }
  for (const output of net.outputs) {
    if (!shapes.has(output.id)) throw new Error(`countMacs: could not propagate shapes to output '${output.name}'`);
  }
  return counts;
}

function layerMacs(layer: tfl.layers.Layer, inShape: Shape, outShape: Shape): LayerMacs | null {
  const known = (s: Shape) => s.slice(1).map((d) => {
    if (d == null) throw new Error(`countMacs: layer ${layer.name} has an unknown dimension in [${s.join(', ')}]`);
    return d;
  });
  if (layer instanceof Conv2d) {
    const [, , cin] = known(inShape);
    const [oh, ow, cout] = known(outShape);
    const [kh, kw] = layer.kernelSize;
    return { name: layer.name, kind: 'conv2d', macs: oh * ow * cout * kh * kw * (cin / layer.groups) };
  }
  if (layer instanceof Linear) {
    const inFeatures = known(inShape).reduce((a, b) => a * b, 1);
    return { name: layer.name, kind: 'linear', macs: inFeatures * layer.units };
  }
  return null;
}
