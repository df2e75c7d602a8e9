/**
 * @jest-environment ./packages/onnx/test/helpers/ort-environment.cjs
 */
/**
 * The 16 models of the paper (4 encoders × 4 decoders at their full size), exported to ONNX and run
 * by ONNX Runtime (CPU): outputs equal busi's forward within 1e-4 relative RMS, at 64² with batch 1
 * and 32² with batch 3 through one exported graph. Small inputs keep the run short; the weights
 * and the graph are the real ones.
 */
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { PAPER_MODELS, createPaperModel, initBackend } from '@busi/node';
import { exportOnnx } from '@busi/onnx';
import { randomizeNorms, worstRelativeRms } from './helpers/parity';

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

test.each(PAPER_MODELS.map((m) => [m.id]))('%s: ONNX Runtime equals busi', async (id) => {
  // Seeded: the same weights every run (a draw whose logits nearly cancel would magnify float32 noise).
  const model = createPaperModel(id, { seed: 1 });
  try {
    randomizeNorms(model);
    const before = tf.memory().numTensors;
    const { bytes } = exportOnnx(model);
    expect(tf.memory().numTensors).toBe(before);
    const session = await ort.InferenceSession.create(bytes);
    try {
      const worst = await worstRelativeRms(model, session, [[1, 64], [3, 32]]);
      // eslint-disable-next-line no-console
      console.info(`onnx parity ${id}: worst relative RMS mask ${worst.mask.toExponential(2)}, logits ${worst.logits.toExponential(2)} (${(bytes.length / 2 ** 20).toFixed(0)} MiB)`);
      expect(worst.mask).toBeLessThan(TOLERANCE);
      expect(worst.logits).toBeLessThan(TOLERANCE);
    } finally {
      await session.release();
    }
  } finally {
    model.dispose();
  }
});
