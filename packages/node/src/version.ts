import * as tf from '@tensorflow/tfjs-core';

/** The busi version shown by `busi --version` and written into every run's config.json. */
export const BUSI_VERSION = '0.1.0';

/** busi, tfjs and node versions for config.json. */
export async function runVersions(): Promise<Record<string, string>> {
  return { busi: BUSI_VERSION, tfjs: tf.version_core, node: process.version };
}
