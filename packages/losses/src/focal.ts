import * as tf from '@tensorflow/tfjs-core';
import { type Loss, type Reduction, reduce, registerLoss } from './loss';

/**
 * Which focal loss {@link FocalLoss} computes:
 * - `'softmax'`: the paper's Eq. 1, a softmax over the classes;
 * - `'smp'`: segmentation_models.pytorch 0.3.3 `FocalLoss(mode='multiclass')`, a sum over classes of
 *   one-vs-rest sigmoid focal terms.
 */
export type FocalVariant = 'softmax' | 'smp';

/** Constructor arguments of {@link FocalLoss}. */
export interface FocalLossArgs {
  /**
   * Class weight α: a number (every term is multiplied by it under 'softmax'; under 'smp' it is smp's
   * α, weighting positives by α and negatives by 1-α), an array of one weight per class, or
   * null/undefined for none (smp's default). Default none.
   */
  alpha?: number | number[] | null;
  /** Focusing parameter γ ≥ 0; γ = 0 gives (weighted) cross-entropy. Default 2. */
  gamma?: number;
  /** 'mean' over the batch (default), 'sum', or 'none' for the per-sample vector `[N]`. */
  reduction?: Reduction;
  /** 'softmax' (default, the paper's Eq. 1) or 'smp' (smp 0.3.3's multiclass focal loss). */
  variant?: FocalVariant;
}

// Keeps the base of (1-p)^γ positive: pow's gradient b·a^(b-1) is infinite at a = 0 for γ < 1 and
// 0·∞ = NaN through the chain; the clamp routes that (zero) gradient to a constant instead.
const TINY = 1e-30;

/**
 * Focal loss of class logits `[N, C]` against integer labels `[N]` (int32) or one-hot / soft
 * targets `[N, C]`. Per sample n, with targets t (one-hot of the label):
 *
 * - `variant: 'softmax'` (Lin et al.; the paper's Eq. 1), with log p = logSoftmax(x):
 *   `ℓ_n = -Σ_c t_nc · α_c · (1 - p_nc)^γ · log p_nc`, which for a hard label y is
 *   `-α_y (1 - p_t)^γ log p_t`. `1 - p` is computed as `-expm1(log p)` so that confident
 *   predictions keep their precision.
 * - `variant: 'smp'` (smp 0.3.3 `FocalLoss(mode='multiclass')` with `focal_loss_with_logits`): for
 *   each class c, `b = BCEWithLogits(x_nc, t_nc) = softplus(x_nc) - x_nc·t_nc`, `p_t = exp(-b)`,
 *   `term = (1 - p_t)^γ · b`, times `α·t + (1-α)(1-t)` when α is given; `ℓ_n = Σ_c term_nc`.
 *   smp's 'mean' takes, per class, the mean over the N samples and sums the C means, which is
 *   `(1/N) Σ_n Σ_c term_nc` — the mean of ℓ_n (not a mean over N·C elements); its 'sum' is
 *   `Σ_n ℓ_n`. So both variants share the same reductions of ℓ.
 *
 * Labels outside `[0, C)` give an all-zero target row (no loss under 'softmax').
 * @example
 * ```ts
 * import { FocalLoss } from '@busi/losses';
 * const focal = new FocalLoss({ gamma: 2 }); // the paper's softmax focal loss; { variant: 'smp' } for smp's
 * const loss = focal.call(classLogits, tf.tensor1d([0, 2, 1], 'int32')); // scalar
 * ```
 */
export class FocalLoss implements Loss {
  /** Name under which the class is registered for (de)serialisation (`lossFromConfig`). */
  static readonly className = 'FocalLoss';
  /** The registered name, on the instance too, so a serialised loss says what it is. */
  readonly className = FocalLoss.className;
  /** Class weight α as given (an array is copied), or null for none; see FocalLossArgs.alpha. */
  readonly alpha: number | number[] | null;
  /** Focusing parameter γ ≥ 0 (2 unless given); 0 turns the loss into (weighted) cross-entropy. */
  readonly gamma: number;
  /** How per-sample losses are combined: 'mean' (default), 'sum' or 'none'. */
  readonly reduction: Reduction;
  /** 'softmax' (the paper's Eq. 1, default) or 'smp' (per-class sigmoid terms, as smp 0.3.3). */
  readonly variant: FocalVariant;

  constructor(args: FocalLossArgs = {}) {
    this.alpha = args.alpha == null ? null : Array.isArray(args.alpha) ? [...args.alpha] : args.alpha;
    this.gamma = args.gamma ?? 2;
    this.reduction = args.reduction ?? 'mean';
    this.variant = args.variant ?? 'softmax';
    if (!(this.gamma >= 0) || !Number.isFinite(this.gamma)) {
      throw new Error(`FocalLoss: gamma must be a finite number >= 0, got ${this.gamma}`);
    }
    if (this.variant !== 'softmax' && this.variant !== 'smp') {
      throw new Error(`FocalLoss: unknown variant '${this.variant as string}' (expected 'softmax' or 'smp')`);
    }
    if (!['mean', 'sum', 'none'].includes(this.reduction)) {
      throw new Error(`FocalLoss: unknown reduction '${this.reduction as string}'`);
    }
    const alphas = this.alpha == null ? [] : Array.isArray(this.alpha) ? this.alpha : [this.alpha];
    for (const a of alphas) {
      if (!Number.isFinite(a)) throw new Error(`FocalLoss: alpha must be finite, got ${a}`);
    }
  }

  /** The loss of `logits` `[N, C]` against labels `[N]` or targets `[N, C]`. */
  call(logits: tf.Tensor, target: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (logits.rank !== 2) throw new Error(`FocalLoss: logits must be [N, C], got shape [${logits.shape}]`);
      const numClasses = logits.shape[1];
      if (Array.isArray(this.alpha) && this.alpha.length !== numClasses) {
        throw new Error(`FocalLoss: alpha has ${this.alpha.length} entries for ${numClasses} classes`);
      }
      const x = tf.cast(logits, 'float32') as tf.Tensor2D;
      const t = toTargets(target, logits.shape as [number, number], 'FocalLoss');
      const perSample = this.variant === 'softmax' ? this.softmaxTerms(x, t) : this.smpTerms(x, t);
      return reduce(perSample, this.reduction);
    });
  }

  getConfig(): Record<string, unknown> {
    return { alpha: this.alpha, gamma: this.gamma, reduction: this.reduction, variant: this.variant };
  }

  private focalTerm(oneMinusP: tf.Tensor): tf.Tensor | null {
    if (this.gamma === 0) return null;
    return tf.pow(tf.maximum(oneMinusP, TINY), this.gamma);
  }

  private softmaxTerms(x: tf.Tensor2D, t: tf.Tensor2D): tf.Tensor1D {
    const logP = tf.logSoftmax(x);
    const focal = this.focalTerm(tf.neg(tf.expm1(logP)));
    let w: tf.Tensor = t;
    if (this.alpha != null) w = tf.mul(w, Array.isArray(this.alpha) ? tf.tensor1d(this.alpha) : this.alpha);
    if (focal != null) w = tf.mul(w, focal);
    return tf.neg(tf.sum(tf.mul(w, logP), 1)) as tf.Tensor1D;
  }

  private smpTerms(x: tf.Tensor2D, t: tf.Tensor2D): tf.Tensor1D {
    const bce = tf.sub(tf.softplus(x), tf.mul(x, t));
    const focal = this.focalTerm(tf.neg(tf.expm1(tf.neg(bce))));
    let loss: tf.Tensor = focal == null ? bce : tf.mul(focal, bce);
    if (this.alpha != null) {
      const a = Array.isArray(this.alpha) ? tf.tensor1d(this.alpha) : tf.scalar(this.alpha);
      // α·t + (1-α)(1-t)
      loss = tf.mul(loss, tf.add(tf.mul(a, t), tf.mul(tf.sub(1, a), tf.sub(1, t))));
    }
    return tf.sum(loss, 1) as tf.Tensor1D;
  }
}
registerLoss(FocalLoss.className, FocalLoss);

/** Turns labels `[N]` into one-hot `[N, C]` float32, or checks and casts targets `[N, C]`. */
export function toTargets(target: tf.Tensor, [n, c]: [number, number], who: string): tf.Tensor2D {
  if (target.rank === 1) {
    if (target.shape[0] !== n) throw new Error(`${who}: ${target.shape[0]} labels for ${n} samples`);
    return tf.cast(tf.oneHot(tf.cast(target, 'int32') as tf.Tensor1D, c), 'float32') as tf.Tensor2D;
  }
  if (target.rank === 2 && target.shape[0] === n && target.shape[1] === c) {
    return tf.cast(target, 'float32') as tf.Tensor2D;
  }
  throw new Error(`${who}: target must be labels [${n}] or one-hot [${n}, ${c}], got shape [${target.shape}]`);
}
