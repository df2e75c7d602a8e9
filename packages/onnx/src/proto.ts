import * as protoModule from 'onnx-proto';

/**
 * onnx-proto's `onnx` namespace as a value. The package is CommonJS: Node's ESM loader does not see
 * its named export (`import { onnx }` throws in the ESM build), so it is read from whichever shape
 * the import has; types still come from `import type { onnx } from 'onnx-proto'`.
 */
export const onnxProto: typeof protoModule.onnx =
  (protoModule as { onnx?: typeof protoModule.onnx }).onnx ?? (protoModule as unknown as { default: { onnx: typeof protoModule.onnx } }).default.onnx;
