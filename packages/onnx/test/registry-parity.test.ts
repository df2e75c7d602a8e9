/**
 * @jest-environment ./packages/onnx/test/helpers/ort-environment.cjs
 */
/**
 * Every registered decoder on the smallest registered encoder of each family, exported to ONNX and
 * run by ONNX Runtime (CPU): its outputs equal busi's forward within 1e-4 relative RMS at two input
 * sizes and batches 1 and 3, through one exported graph (dynamic batch, height and width). Decoders
 * registered later by other packages show up here by themselves. The larger registered encoders
 * are checked for converter coverage layer class by layer class; the paper's 16 models run in
 * paper-models.test.ts.
 */
import * as ort from 'onnxruntime-node';
import * as tfl from '@tensorflow/tfjs-layers';
import '@busi/backbones';
import '@busi/decoders';
import { MultiTaskModel, createEncoder, decoders, encoders, listDecoders, listEncoders } from '@busi/core';
import { initBackend } from '@busi/node';
import { exportOnnx, onnxConverter } from '@busi/onnx';
import { randomizeNorms, worstRelativeRms } from './helpers/parity';

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const smallestPerFamily = (() => {
  const best = new Map<string, { name: string; params: number }>();
  for (const name of listEncoders()) {
    const { family, params } = encoders.info(name);
    const p = params ?? Number.POSITIVE_INFINITY;
    const cur = best.get(family);
    if (!cur || p < cur.params) best.set(family, { name, params: p });
  }
  return [...best.values()].map((b) => b.name).sort();
})();

const registeredDecoders = listDecoders();
/** Whether the encoder can serve the decoder (slim-resnet, the demo's, has no output stride 16). */
function compatible(decoder: string, encoder: string): string | null {
  const outputStride = decoders.info(decoder).encoderOutputStride;
  if (!outputStride) return null;
  try {
    createEncoder(encoder, { outputStride });
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const pairs = registeredDecoders.flatMap((d) => smallestPerFamily.map((e) => ({ decoder: d, encoder: e, why: compatible(d, e) })));
const cases = pairs.filter((p) => p.why === null).map((p) => [p.decoder, p.encoder] as const);
const excluded = pairs.filter((p) => p.why !== null);
if (excluded.length) {
  // eslint-disable-next-line no-console
  console.info(`registry-parity: not combined (the encoder cannot serve the decoder): ${excluded.map((p) => `${p.decoder}/${p.encoder}: ${p.why}`).join('; ')}`);
}

describe('every registered decoder × the smallest encoder of each family', () => {
  test.each(cases)('%s on %s: ONNX Runtime equals busi (batch 1 and 3, 32² and 64²)', async (decoder, encoder) => {
    const stride = decoders.info(decoder).encoderOutputStride ?? 32;
    // PAN's pyramid needs inputs of at least 128 (the registry's minInputSize).
    const min = decoders.info(decoder).minInputSize ?? 32;
    const sizes = [Math.max(32, stride, min), Math.max(64, min + 32)];
    // Seeded: the same weights every run (a draw whose logits nearly cancel would magnify float32 noise).
    const model = new MultiTaskModel({ encoder, decoder, seed: 1 });
    try {
      randomizeNorms(model);
      const { bytes } = exportOnnx(model);
      const session = await ort.InferenceSession.create(bytes);
      try {
        const worst = await worstRelativeRms(model, session, sizes.flatMap((s) => [[1, s], [3, s]] as Array<[number, number]>));
        // eslint-disable-next-line no-console
        console.info(`onnx parity ${decoder}/${encoder}: worst relative RMS mask ${worst.mask.toExponential(2)}, logits ${worst.logits.toExponential(2)}`);
        expect(worst.mask).toBeLessThan(TOLERANCE);
        expect(worst.logits).toBeLessThan(TOLERANCE);
      } finally {
        await session.release();
      }
    } finally {
      model.dispose();
    }
  });
});

test('every layer class of every registered encoder has an ONNX converter', () => {
  const missing: string[] = [];
  for (const name of listEncoders()) {
    const encoder = createEncoder(name, {});
    const input = tfl.input({ shape: [null, null, encoder.outChannels[0]] });
    const graph = tfl.model({ inputs: input, outputs: encoder.apply(input).slice(1) });
    for (const layer of graph.layers) {
      const cls = layer.getClassName();
      if (cls !== 'InputLayer' && !onnxConverter(cls)) missing.push(`${name}: ${layer.name} (${cls})`);
    }
    graph.dispose();
  }
  expect(missing).toEqual([]);
});
