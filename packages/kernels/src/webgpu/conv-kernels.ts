// busi's grouped / dilated convolution kernels (TORCH_CONV2D and its two gradients) in WGSL for
// tfjs-backend-webgpu. tfjs has no grouped conv, and the core fallback for one reads tensors
// synchronously, which the webgpu backend cannot do in Node (it reads through an OffscreenCanvas).
// Direct convolutions, one output element per invocation: the layers that need them (ResNeXt's
// grouped 3×3s, dilated ASPP and encoder stages) are a small share of a model's work.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-webgpu's program interface these kernels fill in. */
interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  size: boolean;
  getUserCode(): string;
}

/** The parts of the WebGPU backend these kernels call. */
interface WebGpuBackendLike {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Array<{ type: 'int32'; data: number[] }>): tf.TensorInfo;
  disposeData(dataId: unknown): void;
}

const WORKGROUP = 64;

/** A flat layout, one invocation per output element (the backend folds an x beyond the device's limit into y and z). */
function flatProgram(outputShape: number[]): Pick<Program, 'dispatchLayout' | 'dispatch' | 'workgroupSize' | 'size'> {
  const groups = Math.ceil(outputShape.reduce((a, b) => a * b, 1) / WORKGROUP);
  return { dispatchLayout: { x: outputShape.map((_, i) => i) }, dispatch: [groups, 1, 1], workgroupSize: [WORKGROUP, 1, 1], size: true };
}

/** Geometry shared by the three kernels, from the {@link TORCH_CONV2D} attributes. */
interface ConvGeometry {
  n: number; h: number; w: number; cin: number;
  kh: number; kw: number; cg: number; cout: number; cog: number;
  oh: number; ow: number;
  sh: number; sw: number; pt: number; pl: number; dh: number; dw: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap, dyShape?: number[]): ConvGeometry {
  const [n, h, w, cin] = xShape;
  const [kh, kw, cg, cout] = filterShape;
  const strides = attrs.strides as number[];
  const pad = attrs.pad as number[][];
  const dil = attrs.dilations as number[];
  const groups = attrs.groups as number;
  const [sh, sw] = strides;
  const [dh, dw] = dil;
  const [pt, pb] = pad[1];
  const [pl, pr] = pad[2];
  const oh = dyShape ? dyShape[1] : Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = dyShape ? dyShape[2] : Math.floor((w + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  if (cg * groups !== cin || cout % groups !== 0) {
    throw new Error(`BusiTorchConv2D (webgpu): input ${cin} / output ${cout} channels do not fit groups=${groups} with a [${filterShape}] filter`);
  }
  return { n, h, w, cin, kh, kw, cg, cout, cog: cout / groups, oh, ow, sh, sw, pt, pl, dh, dw };
}

const UNIFORMS = 'strides : vec2<i32>, pads : vec2<i32>, dilations : vec2<i32>, filterDims : vec2<i32>, groupDims : vec2<i32>, inDims : vec2<i32>, outDims : vec2<i32>,';

function uniforms(g: ConvGeometry): Array<{ type: 'int32'; data: number[] }> {
  return [[g.sh, g.sw], [g.pt, g.pl], [g.dh, g.dw], [g.kh, g.kw], [g.cg, g.cog], [g.h, g.w], [g.oh, g.ow]].map((data) => ({ type: 'int32' as const, data }));
}

/** y[n, oy, ox, co] = Σ x[n, oy·s − p + i·d, ox·s − p + j·d, g·cg + c] · w[i, j, c, co], g = co / cog. */
function forwardCode(): string {
  return `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let coords = getCoordsFromIndex(index);
      let b = coords[0];
      let co = coords[3];
      let ciBase = (co / uniforms.groupDims.y) * uniforms.groupDims.x;
      let corner = vec2<i32>(coords[1], coords[2]) * uniforms.strides - uniforms.pads;
      var acc = 0.0;
      for (var i = 0; i < uniforms.filterDims.x; i++) {
        let r = corner.x + i * uniforms.dilations.x;
        if (r < 0 || r >= uniforms.inDims.x) { continue; }
        for (var j = 0; j < uniforms.filterDims.y; j++) {
          let c = corner.y + j * uniforms.dilations.y;
          if (c < 0 || c >= uniforms.inDims.y) { continue; }
          for (var k = 0; k < uniforms.groupDims.x; k++) {
            acc += getX(b, r, c, ciBase + k) * getW(i, j, k, co);
          }
        }
      }
      setOutputAtIndex(index, acc);
    }`;
}

/** dx[n, r, c, ci] = Σ over taps and the group's output channels of dy at the output pixel that tap maps to. */
function backpropInputCode(): string {
  return `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let coords = getCoordsFromIndex(index);
      let b = coords[0];
      let ci = coords[3];
      let k = ci % uniforms.groupDims.x;
      let coBase = (ci / uniforms.groupDims.x) * uniforms.groupDims.y;
      let origin = vec2<i32>(coords[1], coords[2]) + uniforms.pads;
      var acc = 0.0;
      for (var i = 0; i < uniforms.filterDims.x; i++) {
        let ry = origin.x - i * uniforms.dilations.x;
        if (ry < 0 || ry % uniforms.strides.x != 0) { continue; }
        let oy = ry / uniforms.strides.x;
        if (oy >= uniforms.outDims.x) { continue; }
        for (var j = 0; j < uniforms.filterDims.y; j++) {
          let rx = origin.y - j * uniforms.dilations.y;
          if (rx < 0 || rx % uniforms.strides.y != 0) { continue; }
          let ox = rx / uniforms.strides.y;
          if (ox >= uniforms.outDims.y) { continue; }
          for (var o = 0; o < uniforms.groupDims.y; o++) {
            acc += getDy(b, oy, ox, coBase + o) * getW(i, j, k, coBase + o);
          }
        }
      }
      setOutputAtIndex(index, acc);
    }`;
}

/**
 * Partial filter gradients: part[s, e] (e the flat index into the filter [kh, kw, cg, cout]) sums
 * x·dy over the output rows s, s + S, ... of the flattened (batch, output row) axis, so that
 * small filters still fill the device.
 */
function backpropFilterCode(): string {
  return `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let coords = getCoordsFromIndex(index);
      let s = coords[0];
      let cout = uniforms.dyShape[3];
      let co = coords[1] % cout;
      let tap = coords[1] / cout;
      let k = tap % uniforms.groupDims.x;
      let j = (tap / uniforms.groupDims.x) % uniforms.filterDims.y;
      let i = tap / (uniforms.groupDims.x * uniforms.filterDims.y);
      let ci = (co / uniforms.groupDims.y) * uniforms.groupDims.x + k;
      let count = uniforms.outShape[0];
      let rows = uniforms.dyShape[0] * uniforms.outDims.x;
      var acc = 0.0;
      for (var row = s; row < rows; row += count) {
        let b = row / uniforms.outDims.x;
        let oy = row % uniforms.outDims.x;
        let r = oy * uniforms.strides.x - uniforms.pads.x + i * uniforms.dilations.x;
        if (r < 0 || r >= uniforms.inDims.x) { continue; }
        for (var ox = 0; ox < uniforms.outDims.y; ox++) {
          let c = ox * uniforms.strides.y - uniforms.pads.y + j * uniforms.dilations.y;
          if (c < 0 || c >= uniforms.inDims.y) { continue; }
          acc += getX(b, r, c, ci) * getDy(b, oy, ox, co);
        }
      }
      setOutputAtIndex(index, acc);
    }`;
}

/** out[e] = Σ_s part[s, e]: the second pass of the filter gradient. */
function sumPartsCode(): string {
  return `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let count = uniforms.partsShape[0];
      var acc = 0.0;
      for (var s = 0; s < count; s++) {
        acc += f32(parts[s * uniforms.size + index]);
      }
      setOutputAtIndex(index, acc);
    }`;
}

function program(name: string, variableNames: string[], outputShape: number[], code: string, withConvUniforms = true): Program {
  return {
    variableNames,
    outputShape,
    shaderKey: `busi_${name}`,
    uniforms: withConvUniforms ? UNIFORMS : '',
    ...flatProgram(outputShape),
    getUserCode: () => code,
  };
}

/** What tfjs passes a kernel function. */
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Invocations the filter gradient aims for: enough parallel work for a large GPU. */
const FILTER_GRAD_TARGET_THREADS = 1 << 17;

function torchConv2d({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const b = backend as WebGpuBackendLike;
  const g = geometry(x.shape, filter.shape, attrs!);
  const p = program('torch_conv2d', ['x', 'W'], [g.n, g.oh, g.ow, g.cout], forwardCode());
  return b.runWebGPUProgram(p, [x, filter], 'float32', uniforms(g));
}

function torchConv2dBackpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const b = backend as WebGpuBackendLike;
  const inputShape = attrs!.inputShape as number[];
  const g = geometry(inputShape, filter.shape, attrs!, dy.shape);
  const p = program('torch_conv2d_dx', ['dy', 'W'], inputShape, backpropInputCode());
  return b.runWebGPUProgram(p, [dy, filter], 'float32', uniforms(g));
}

function torchConv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const b = backend as WebGpuBackendLike;
  const filterShape = attrs!.filterShape as number[];
  const g = geometry(x.shape, filterShape, attrs!, dy.shape);
  const filterSize = filterShape.reduce((a, c) => a * c, 1);
  const rows = g.n * g.oh;
  const parts = Math.max(1, Math.min(rows, Math.ceil(FILTER_GRAD_TARGET_THREADS / filterSize)));
  const partial = b.runWebGPUProgram(
    program('torch_conv2d_dw', ['x', 'dy'], [parts, filterSize], backpropFilterCode()), [x, dy], 'float32', uniforms(g),
  );
  if (parts === 1) return { ...partial, shape: filterShape };
  const out = b.runWebGPUProgram(program('torch_conv2d_dw_sum', ['parts'], [filterSize], sumPartsCode(), false), [partial], 'float32', []);
  b.disposeData(partial.dataId);
  return { ...out, shape: filterShape };
}

/** Kernel configs for tfjs-backend-webgpu, keyed by the kernel names of `@busi/core`'s ops/conv. */
export function webGpuConvKernelConfigs(names: { forward: string; backpropInput: string; backpropFilter: string }): tf.KernelConfig[] {
  return [
    { kernelName: names.forward, backendName: 'webgpu', kernelFunc: torchConv2d as unknown as tf.KernelFunc },
    { kernelName: names.backpropInput, backendName: 'webgpu', kernelFunc: torchConv2dBackpropInput as unknown as tf.KernelFunc },
    { kernelName: names.backpropFilter, backendName: 'webgpu', kernelFunc: torchConv2dBackpropFilter as unknown as tf.KernelFunc },
  ];
}
