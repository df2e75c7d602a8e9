import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { BatchNorm2d, GroupNorm, type MultiTaskModel } from '@busi/core';

/** ‖a − b‖ / ‖b‖ over all elements (b the reference). */
export function relativeRms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeRms: ${a.length} vs ${b.length} values`);
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(n, 1e-30));
}

/**
 * Gives every BatchNorm and GroupNorm random (seeded) scales, shifts and running statistics: a
 * freshly built model's mean 0 / variance 1 would make a wrong epsilon or statistic invisible.
 */
export function randomizeNorms(model: MultiTaskModel, seed = 1): void {
  let k = seed;
  for (const layer of model.model.layers) {
    if (!(layer instanceof BatchNorm2d || layer instanceof GroupNorm)) continue;
    const next = tf.tidy(() =>
      layer.getWeights().map((w, i) => {
        // weight, bias, running_mean, running_var (GroupNorm: weight, bias).
        const [lo, hi] = [[0.5, 1.5], [-0.3, 0.3], [-0.3, 0.3], [0.5, 2]][i];
        return tf.randomUniform(w.shape, lo, hi, 'float32', k++);
      }),
    );
    layer.setWeights(next);
    tf.dispose(next);
  }
}

/** busi's forward in ONNX's layout: mask NCHW, logits. */
export async function busiForward(model: MultiTaskModel, x: tf.Tensor4D): Promise<{ mask: Float32Array; logits: Float32Array }> {
  const out = model.predict(x);
  const nchw = tf.transpose(out.mask, [0, 3, 1, 2]);
  const result = { mask: (await nchw.data()) as Float32Array, logits: (await out.logits.data()) as Float32Array };
  tf.dispose([out.mask, out.logits, nchw]);
  return result;
}

/** ONNX Runtime's outputs for an NHWC tfjs input, fed as NCHW (or as it is with `layout` 'NHWC'). */
export async function ortForward(session: ort.InferenceSession, x: tf.Tensor4D, layout: 'NCHW' | 'NHWC' = 'NCHW'): Promise<{ mask: Float32Array; logits: Float32Array }> {
  const t = layout === 'NCHW' ? tf.transpose(x, [0, 3, 1, 2]) : tf.clone(x);
  const data = Float32Array.from(await t.data());
  const image = new ort.Tensor('float32', data, t.shape);
  t.dispose();
  const res = await session.run({ image });
  return { mask: res.mask_logits.data as Float32Array, logits: res.class_logits.data as Float32Array };
}

/** Worst relative RMS of mask and logits between busi and ONNX Runtime over the given batches. */
export async function worstRelativeRms(
  model: MultiTaskModel,
  session: ort.InferenceSession,
  inputs: ReadonlyArray<[batch: number, size: number]>,
  seed = 7,
): Promise<{ mask: number; logits: number }> {
  const worst = { mask: 0, logits: 0 };
  for (const [n, s] of inputs) {
    const x = tf.randomNormal([n, s, s, model.config.inChannels], 0, 1, 'float32', seed + n * 1000 + s) as tf.Tensor4D;
    const ref = await busiForward(model, x);
    const got = await ortForward(session, x);
    x.dispose();
    worst.mask = Math.max(worst.mask, relativeRms(got.mask, ref.mask));
    worst.logits = Math.max(worst.logits, relativeRms(got.logits, ref.logits));
  }
  return worst;
}
