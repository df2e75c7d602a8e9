import * as tf from '@tensorflow/tfjs-core';
import { BUSI_VERSION } from '@busi/core';

// One home for the version: @busi/core's, which model cards record too.
export { BUSI_VERSION };

/** busi, tfjs and node versions for config.json. */
export async function runVersions(): Promise<Record<string, string>> {
  return { busi: BUSI_VERSION, tfjs: tf.version_core, node: process.version };
}
