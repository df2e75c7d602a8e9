import * as tf from '@tensorflow/tfjs-core';
import { DiceLoss } from './dice';
import { FocalLoss } from './focal';
import { type Loss, type LossConfig, lossFromConfig, serializeLoss } from './loss';

/** The paper's segmentation weight λ (Chung et al.): the one home of this default. */
export const DEFAULT_LAMBDA = 0.7;

/** Constructor arguments of {@link MultiTaskLoss}. */
export interface MultiTaskLossArgs {
  /** Weight λ ∈ [0, 1] of the segmentation loss; the classification loss gets 1-λ. Default 0.7. */
  lambda?: number;
  /** Segmentation loss (a {@link Loss} or its serialised form). Default `new DiceLoss()`. */
  segmentation?: Loss | LossConfig;
  /** Classification loss (a {@link Loss} or its serialised form). Default `new FocalLoss()`. */
  classification?: Loss | LossConfig;
}

/** The parts of a {@link MultiTaskLoss}: scalar tensors owned by the caller. */
export interface MultiTaskLossParts {
  /** λ·segmentation + (1-λ)·classification: the tensor to differentiate. */
  total: tf.Scalar;
  /** Unweighted segmentation loss. */
  segmentation: tf.Scalar;
  /** Unweighted classification loss. */
  classification: tf.Scalar;
}

function isLossConfig(x: Loss | LossConfig): x is LossConfig {
  return typeof (x as Loss).call !== 'function';
}

/**
 * The paper's multi-task objective `L = λ·L_seg + (1-λ)·L_cls` (λ = 0.7, L_seg = Dice, L_cls = focal).
 * {@link MultiTaskLoss.compute} returns the total and both parts; {@link MultiTaskLoss.call} returns
 * the total alone, for `optimizer.minimize(() => loss.call(...))`. Both sub-losses must reduce to
 * scalars.
 * @example
 * ```ts
 * import { MultiTaskLoss } from '@busi/losses';
 * const loss = new MultiTaskLoss({ lambda: 0.7 }); // 0.7·Dice + 0.3·Focal
 * const { total, segmentation, classification } = loss.compute(maskLogits, masks, classLogits, labels);
 * ```
 */
export class MultiTaskLoss {
  /** Name under which the class is registered for (de)serialisation. */
  static readonly className = 'MultiTaskLoss';
  /** The registered name, on the instance too, so a serialised loss says what it is. */
  readonly className = MultiTaskLoss.className;
  /** Segmentation weight λ ∈ [0, 1] (0.7, the paper's, unless given); classification gets 1-λ. */
  readonly lambda: number;
  /** The mask loss, applied to mask logits (`DiceLoss` unless given); must reduce to a scalar. */
  readonly segmentation: Loss;
  /** The class loss, applied to class logits (`FocalLoss` unless given); must reduce to a scalar. */
  readonly classification: Loss;

  constructor(args: MultiTaskLossArgs = {}) {
    this.lambda = args.lambda ?? DEFAULT_LAMBDA;
    if (!(this.lambda >= 0 && this.lambda <= 1)) {
      throw new Error(`MultiTaskLoss: lambda must lie in [0, 1], got ${this.lambda}`);
    }
    const seg = args.segmentation ?? new DiceLoss();
    const cls = args.classification ?? new FocalLoss();
    this.segmentation = isLossConfig(seg) ? lossFromConfig(seg) : seg;
    this.classification = isLossConfig(cls) ? lossFromConfig(cls) : cls;
  }

  /**
   * Total and parts for mask logits / mask target and class logits / class target (labels `[N]` or
   * one-hot `[N, C]`).
   */
  compute(maskLogits: tf.Tensor, maskTarget: tf.Tensor, classLogits: tf.Tensor, classTarget: tf.Tensor): MultiTaskLossParts {
    const parts = tf.tidy(() => {
      const segmentation = this.segmentation.call(maskLogits, maskTarget);
      const classification = this.classification.call(classLogits, classTarget);
      for (const [name, v] of [['segmentation', segmentation], ['classification', classification]] as const) {
        if (v.rank !== 0) throw new Error(`MultiTaskLoss: the ${name} loss must be a scalar (reduction 'mean' or 'sum')`);
      }
      const total = tf.add(tf.mul(segmentation, this.lambda), tf.mul(classification, 1 - this.lambda));
      return { total, segmentation, classification } as unknown as tf.TensorContainer;
    });
    return parts as unknown as MultiTaskLossParts;
  }

  /** The total loss alone. */
  call(maskLogits: tf.Tensor, maskTarget: tf.Tensor, classLogits: tf.Tensor, classTarget: tf.Tensor): tf.Scalar {
    return tf.tidy(() => this.compute(maskLogits, maskTarget, classLogits, classTarget).total);
  }

  /**
   * λ and both sub-losses in serialised form (`{ className, config }`), enough to rebuild this loss with `new
   * MultiTaskLoss(config)`.
   */
  getConfig(): Record<string, unknown> {
    return {
      lambda: this.lambda,
      segmentation: serializeLoss(this.segmentation),
      classification: serializeLoss(this.classification),
    };
  }
}
