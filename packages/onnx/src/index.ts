// The exporter and what a converter for a new layer needs; the graph-walk internals stay inside.
export { exportOnnx, ONNX_IR_VERSION, ONNX_NAMES, ONNX_OPSET, type OnnxExport, type OnnxExportOptions } from './export';
export { readOnnxModelInfo, ONNX_METADATA_KEYS, type OnnxModelInfo } from './metadata';
export { attr, ELEMENT_TYPE, OnnxGraph, type AttributeValue, type OnnxPrecision } from './graph';
export { fromChannelsLast, onnxAxis, toChannelsLast } from './layout';
export { requireWeight, torchWeights, type TorchWeight } from './weights';
export { fromFloat16Bits, toFloat16Bits } from './float16';
export { listOnnxConverters, onnxConverter, registerOnnxConverter, type ConversionContext, type LayerConverter, type OnnxValue } from './converters/index';
