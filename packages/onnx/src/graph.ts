import type { onnx } from 'onnx-proto';
import { onnxProto } from './proto';
import { toFloat16Bits } from './float16';

/** Element type of the exported computation: weights and activations. */
export type OnnxPrecision = 'float32' | 'float16';

/** One attribute value of an ONNX node, typed as ONNX wants it (see {@link attr}). */
export type AttributeValue =
  | string
  | {
      /** An INT attribute (an axis, a kernel size). */
      int: number;
    }
  | {
      /** An INTS attribute (pads, strides, a permutation). */
      ints: readonly number[];
    }
  | {
      /** A FLOAT attribute (epsilon, alpha). */
      float: number;
    }
  | {
      /** A FLOATS attribute (resize scales). */
      floats: readonly number[];
    };

/** Typed attribute values: ONNX tells INT from FLOAT, JavaScript numbers do not. */
export const attr = {
  /** An INT attribute. */
  int: (v: number): AttributeValue => ({ int: v }),
  /** An INTS attribute. */
  ints: (v: readonly number[]): AttributeValue => ({ ints: v }),
  /** A FLOAT attribute. */
  float: (v: number): AttributeValue => ({ float: v }),
  /** A FLOATS attribute. */
  floats: (v: readonly number[]): AttributeValue => ({ floats: v }),
};

/** The ONNX element type codes busi writes. */
export const ELEMENT_TYPE = {
  /** FLOAT (1): the graph's inputs and outputs always, and weights and activations of a float32 export. */
  float32: onnxProto.TensorProto.DataType.FLOAT,
  /** FLOAT16 (10): weights and activations inside a `precision: 'float16'` graph (Casts at its boundary). */
  float16: onnxProto.TensorProto.DataType.FLOAT16,
  /** INT64 (7): shapes and axes (Reshape, Resize sizes), which ONNX requires as int64. */
  int64: onnxProto.TensorProto.DataType.INT64,
} as const;

/**
 * An ONNX graph under construction: nodes in topological order, initializers, unique names. The
 * converters add nodes through it; {@link OnnxGraph.toProto} hands the result to `onnx-proto`.
 */
export class OnnxGraph {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();

  /** @param precision element type of weights and activations. */
  constructor(readonly precision: OnnxPrecision) {}

  /** The ONNX element type code of the computation. */
  get elementType(): number {
    return ELEMENT_TYPE[this.precision];
  }

  /** `base`, or `base_1`, `base_2`, ... when taken; the name is then reserved. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** Reserves a name that must be used exactly as given (graph inputs and outputs). */
  reserve(name: string): string {
    if (this.names.has(name)) throw new Error(`OnnxGraph: the name '${name}' is already taken`);
    this.names.add(name);
    return name;
  }

  /**
   * A weight initializer in the graph's precision (PyTorch layout is ONNX's for Conv, Gemm and the
   * normalisations). Returns its name.
   */
  weight(name: string, values: Float32Array, dims: readonly number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== values.length) throw new Error(`OnnxGraph: weight '${name}' has ${values.length} values for dims [${dims}]`);
    const raw = this.precision === 'float16' ? toFloat16Bits(values) : values;
    return this.addInitializer(name, this.elementType, dims, bytesOf(raw));
  }

  /** A float32 initializer whatever the precision (ONNX wants float32 for e.g. Resize scales). */
  float32(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.addInitializer(name, ELEMENT_TYPE.float32, dims, bytesOf(Float32Array.from(values)));
  }

  /** A 1-D int64 constant (axes, shapes); equal constants are shared. */
  int64(values: readonly number[]): string {
    const key = values.join(',');
    const known = this.int64Constants.get(key);
    if (known) return known;
    const name = this.addInitializer(`const_i64_${values.map((v) => (v < 0 ? `m${-v}` : v)).join('_') || 'empty'}`, ELEMENT_TYPE.int64, [values.length], bytesOf(BigInt64Array.from(values, (v) => BigInt(v))));
    this.int64Constants.set(key, name);
    return name;
  }

  /**
   * Appends a node. `outputs` are names the caller reserved, or a count of fresh outputs named after
   * the node. Returns the output names.
   */
  node(opType: string, inputs: readonly string[], outputs: readonly string[] | number, attributes: Record<string, AttributeValue> = {}, name?: string): string[] {
    const nodeName = this.uniqueName(name ?? opType);
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => (i === 0 ? nodeName : this.uniqueName(`${nodeName}:${i}`))) : [...outputs];
    this.nodes.push({
      name: nodeName,
      opType,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([key, v]) => attribute(key, v)),
    });
    return outs;
  }

  /** The node with a single output: its name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, name?: string): string {
    return this.node(opType, inputs, 1, attributes, name)[0];
  }

  /** The graph message, with the given inputs and outputs. */
  toProto(name: string, inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[]): onnx.IGraphProto {
    return { name, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs };
  }

  /** Number of nodes so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  private addInitializer(base: string, dataType: number, dims: readonly number[], rawData: Uint8Array): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dataType, dims: [...dims], rawData });
    return name;
  }
}

/** A graph input or output description; `null` or a string in `shape` is a named dynamic dimension. */
export function valueInfo(name: string, elemType: number, shape: ReadonlyArray<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

// ONNX stores raw tensor data little-endian, which typed arrays are on every platform Node runs on.
function bytesOf(a: Float32Array | Uint16Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  const T = onnxProto.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if ('int' in v) return { name, type: T.INT, i: v.int };
  if ('ints' in v) return { name, type: T.INTS, ints: [...v.ints] };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: [...v.floats] };
}
