import * as tf from '@tensorflow/tfjs-core';
import { type Loss, registerLoss } from './loss';

/**
 * Which Dice loss {@link DiceLoss} computes:
 * - `'paper'`: the paper's Eq. 2, the soft Dice averaged over the background and foreground classes;
 * - `'smp'`: segmentation_models.pytorch 0.3.3 `DiceLoss(mode='binary')`.
 */
export type DiceVariant = 'paper' | 'smp';

/**
 * Where the sums of the 'paper' variant run: `'image'` computes one Dice per image and averages the
 * losses over the batch; `'batch'` pools the sums over every pixel of the batch (one Dice per batch).
 */
export type DiceAveraging = 'image' | 'batch';

/** Constructor arguments of {@link DiceLoss}. */
export interface DiceLossArgs {
  /** 'paper' (default) or 'smp'. */
  variant?: DiceVariant;
  /** 'image' (default) or 'batch'; the 'smp' variant always pools over the batch. */
  averaging?: DiceAveraging;
  /** Added to numerator and denominator. Default 1 for 'paper', 0 for 'smp' (smp's default). */
  smooth?: number;
  /** Lower bound of the denominator (smp's `clamp_min(eps)`). Default 1e-7. */
  eps?: number;
}

/**
 * Soft Dice loss of mask logits against a binary (or soft) mask of the same size: logits `[N, H, W, 1]`
 * (busi's NHWC mask output) with target `[N, H, W, 1]` or `[N, H, W]`; any shapes with N first and the
 * same number of elements per sample work, since each sample is flattened. p = sigmoid(logits).
 *
 * - `variant: 'paper'` (default): for the foreground (p, t) and the background (1-p, 1-t) classes,
 *   `D_c = (2·Σ p_c t_c + smooth) / max(Σ p_c + Σ t_c + smooth, eps)` and
 *   `loss = 1 - (D_fg + D_bg) / 2`. With `averaging: 'image'` (default) the sums run over one image's
 *   pixels and the per-image losses are averaged over the batch; with `'batch'` they run over the whole
 *   batch. The default smooth = 1 makes an image with an empty truth score D_fg → 1 as its prediction
 *   empties (with smooth = 0 its D_fg would be 0 whatever the prediction).
 * - `variant: 'smp'` (smp 0.3.3 `DiceLoss(mode='binary', from_logits=True)`, defaults smooth 0,
 *   eps 1e-7): with sums over the batch and all pixels (smp's dims (0, 2) after `view(bs, 1, -1)`),
 *   `score = (2·Σ p t + smooth) / max(Σ (p + t) + smooth, eps)`, `loss = 1 - score`, multiplied by
 *   `(Σ t > 0)`: the loss is ZERO (and has zero gradient) for a batch without a positive pixel.
 * @example
 * ```ts
 * import { DiceLoss } from '@busi/losses';
 * const dice = new DiceLoss(); // soft Dice over foreground and background, per image; { variant: 'smp' } for smp's
 * const loss = dice.call(maskLogits, masks); // [N,H,W,1] logits and 0/1 masks → scalar
 * ```
 */
export class DiceLoss implements Loss {
  /** Name under which the class is registered for (de)serialisation (`lossFromConfig`). */
  static readonly className = 'DiceLoss';
  /** The registered name, on the instance too, so a serialised loss says what it is. */
  readonly className = DiceLoss.className;
  /**
   * 'paper' (Eq. 2: foreground and background Dice averaged, default) or 'smp' (foreground only, zero on an
   * empty batch).
   */
  readonly variant: DiceVariant;
  /**
   * 'image' (one Dice per image, averaged; default) or 'batch' (sums pooled over the batch); 'smp' always
   * pools.
   */
  readonly averaging: DiceAveraging;
  /**
   * Added to numerator and denominator: 1 for 'paper' and 0 for 'smp' unless given; keeps empty masks scoring
   * 1, not 0.
   */
  readonly smooth: number;
  /**
   * Lower bound of the denominator (1e-7 unless given), so an all-zero prediction and truth do not divide by
   * 0.
   */
  readonly eps: number;

  constructor(args: DiceLossArgs = {}) {
    this.variant = args.variant ?? 'paper';
    if (this.variant !== 'paper' && this.variant !== 'smp') {
      throw new Error(`DiceLoss: unknown variant '${this.variant as string}' (expected 'paper' or 'smp')`);
    }
    this.averaging = args.averaging ?? (this.variant === 'smp' ? 'batch' : 'image');
    if (this.averaging !== 'image' && this.averaging !== 'batch') {
      throw new Error(`DiceLoss: unknown averaging '${this.averaging as string}' (expected 'image' or 'batch')`);
    }
    if (this.variant === 'smp' && this.averaging !== 'batch') {
      throw new Error("DiceLoss: the 'smp' variant pools over the batch; averaging must be 'batch'");
    }
    this.smooth = args.smooth ?? (this.variant === 'smp' ? 0 : 1);
    this.eps = args.eps ?? 1e-7;
    if (!(this.smooth >= 0) || !(this.eps >= 0)) {
      throw new Error(`DiceLoss: smooth and eps must be >= 0, got ${this.smooth}, ${this.eps}`);
    }
  }

  /** The scalar loss of mask `logits` against `target`. */
  call(logits: tf.Tensor, target: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const n = logits.shape[0];
      if (logits.rank < 2 || target.shape[0] !== n || target.size !== logits.size) {
        throw new Error(
          `DiceLoss: logits [${logits.shape}] and target [${target.shape}] must share the batch size and element count`,
        );
      }
      const p = tf.sigmoid(tf.reshape(tf.cast(logits, 'float32'), [n, -1]));
      const t = tf.reshape(tf.cast(target, 'float32'), [n, -1]);
      if (this.variant === 'smp') {
        const loss = tf.sub(1, this.score(p, t, undefined));
        return tf.mul(loss, tf.cast(tf.greater(tf.sum(t), 0), 'float32'));
      }
      const axis = this.averaging === 'image' ? 1 : undefined;
      const fg = this.score(p, t, axis);
      const bg = this.score(tf.sub(1, p), tf.sub(1, t), axis);
      return tf.mean(tf.sub(1, tf.div(tf.add(fg, bg), 2)));
    });
  }

  getConfig(): Record<string, unknown> {
    return { variant: this.variant, averaging: this.averaging, smooth: this.smooth, eps: this.eps };
  }

  private score(p: tf.Tensor, t: tf.Tensor, axis: number | undefined): tf.Tensor {
    const inter = tf.sum(tf.mul(p, t), axis);
    const card = tf.sum(tf.add(p, t), axis);
    return tf.div(tf.add(tf.mul(inter, 2), this.smooth), tf.maximum(tf.add(card, this.smooth), this.eps));
  }
}
registerLoss(DiceLoss.className, DiceLoss);
