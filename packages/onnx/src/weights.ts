import type { layers } from '@tensorflow/tfjs-layers';
import { isTorchMappable, readTorchValue } from '@busi/core';

/** A layer weight in PyTorch layout, which is ONNX's for Conv (`[out, in/groups, kh, kw]`), Gemm and the norms. */
export interface TorchWeight {
  /** PyTorch state-dict name, e.g. `encoder.conv1.weight`; the initializer is named after it. */
  name: string;
  /** Shape in PyTorch order. */
  dims: number[];
  /** The values, row-major in `dims` order (float32 even for a float16 export, which converts on writing). */
  values: Float32Array;
}

/** A busi layer's weights keyed by their PyTorch suffix (`weight`, `bias`, `running_mean`, ...). */
export function torchWeights(layer: layers.Layer): Map<string, TorchWeight> {
  const out = new Map<string, TorchWeight>();
  if (!isTorchMappable(layer)) return out;
  for (const p of layer.torchParams()) {
    const { shape, data } = readTorchValue(p);
    out.set(p.name.slice(p.name.lastIndexOf('.') + 1), { name: p.name, dims: [...shape], values: data });
  }
  return out;
}

/** The weight `suffix` of `layer`, or a clear error. */
export function requireWeight(weights: Map<string, TorchWeight>, suffix: string, layer: layers.Layer): TorchWeight {
  const w = weights.get(suffix);
  if (!w) throw new Error(`exportOnnx: layer '${layer.name}' (${layer.getClassName()}) has no '${suffix}' weight (is it built?)`);
  return w;
}
