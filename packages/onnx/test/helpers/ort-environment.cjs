// A jest node environment whose typed-array constructors are Node's own. onnxruntime-node's
// native binding creates output tensors with Node's Float32Array, and onnxruntime-common checks
// `instanceof` against the test sandbox's, which jest's default environment makes a different
// class ("A float32 tensor's data must be type of Float32Array"). Used with a @jest-environment
// docblock by the tests that run ONNX Runtime.
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Uint8Array, Uint8ClampedArray,
  Uint16Array, Uint32Array, BigInt64Array, BigUint64Array, ArrayBuffer,
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const T of TYPED_ARRAYS) this.global[T.name] = T;
  }
}

module.exports = OrtEnvironment;
