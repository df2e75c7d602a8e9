import type { OnnxGraph } from './graph';
import { attr } from './graph';

/**
 * busi's tfjs tensors are channels-last; the exported graph keeps every rank-4 tensor NCHW (what
 * ONNX's Conv, pooling and Resize expect) and every other rank as it is in tfjs.
 */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

/** The ONNX axis of tfjs axis `axis` (negative counts from the end) of a rank-`rank` tensor. */
export function onnxAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return rank === 4 ? NHWC_TO_NCHW_AXIS[a] : a;
}

/** The tensor in tfjs layout (a Transpose for rank 4). */
export function toChannelsLast(graph: OnnxGraph, name: string, rank: number, nodeName: string): string {
  return rank === 4 ? graph.op('Transpose', [name], { perm: attr.ints([0, 2, 3, 1]) }, nodeName) : name;
}

/** A tfjs-layout tensor in the graph's layout (a Transpose for rank 4). */
export function fromChannelsLast(graph: OnnxGraph, name: string, rank: number, nodeName: string): string {
  return rank === 4 ? graph.op('Transpose', [name], { perm: attr.ints([0, 3, 1, 2]) }, nodeName) : name;
}
