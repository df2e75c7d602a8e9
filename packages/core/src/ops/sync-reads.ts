import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether the active backend can be read synchronously (`dataSync`) at no great cost. False on
 * webgpu: in Node and Deno its synchronous read needs an OffscreenCanvas and fails, and in a
 * browser it stalls the GPU queue. Code on the training path reads asynchronously where this is
 * false.
 */
export function readsSynchronously(backend: string = tf.getBackend()): boolean {
  return backend !== 'webgpu';
}
