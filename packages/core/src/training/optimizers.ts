import * as tf from '@tensorflow/tfjs-core';

/** A tensor with a stable name (tfjs-core does not export its own NamedTensor type from the package root). */
export type NamedTensor = {
  /** The name: a `tf.Variable` name for a gradient, `iter` or `<variable>/m|v|step` in an optimizer state. */
  name: string;
  /** The value. */
  tensor: tf.Tensor;
};

/** Constructor arguments of {@link Adam} and {@link AdamW}. */
export interface AdamArgs {
  /** Step size `lr`. Default 1e-3 (PyTorch). */
  learningRate?: number;
  /** Decay of the first-moment estimate. Default 0.9. */
  beta1?: number;
  /** Decay of the second-moment estimate. Default 0.999. */
  beta2?: number;
  /** Added to `√v̂` (after the square root, as PyTorch). Default 1e-8. */
  epsilon?: number;
  /** Weight decay `wd`: an L2 term for {@link Adam} (default 0), decoupled for {@link AdamW} (default 1e-2). */
  weightDecay?: number;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  // PyTorch counts steps per parameter: a parameter that missed a step keeps its own bias correction.
  step: number;
}

/**
 * Adam as `torch.optim.Adam` / `torch.optim.AdamW` compute it (amsgrad off, maximize off):
 * per parameter, with `t` its own step count,
 * ```
 * m ← β1·m + (1−β1)·g
 * v ← β2·v + (1−β2)·g²
 * θ ← θ − lr·m̂/(√v̂ + eps),   m̂ = m/(1−β1ᵗ),  v̂ = v/(1−β2ᵗ)
 * ```
 * eps is added after the bias-corrected square root, and what is not the same in `tf.train.adam`
 * is what busi needs: PyTorch's weight decay, eps 1e-8 on every backend (tfjs defaults to the
 * backend's epsilon, 1e-7 or 1e-4), per-parameter step counts, and a state that can be saved and
 * restored by variable name. Subclasses differ only in how weight decay enters.
 */
abstract class TorchAdamBase extends tf.Optimizer {
  /** Step size; may be changed between steps (learning-rate schedules). */
  learningRate: number;
  /** Decay of the first-moment estimate (PyTorch `betas[0]`). */
  readonly beta1: number;
  /** Decay of the second-moment estimate (PyTorch `betas[1]`). */
  readonly beta2: number;
  /** Added to `√v̂` after the square root, as PyTorch does (tfjs's Adam uses the backend's epsilon instead). */
  readonly epsilon: number;
  /** Weight-decay coefficient; may be changed between steps. */
  weightDecay: number;
  private slots = new Map<string, Slot>();

  /** Whether weight decay is applied to the weights directly (AdamW) rather than added to the gradient as L2 (Adam). */
  protected abstract readonly decoupled: boolean;

  constructor(args: AdamArgs, defaultWeightDecay: number, who: string) {
    super();
    this.learningRate = args.learningRate ?? 1e-3;
    this.beta1 = args.beta1 ?? 0.9;
    this.beta2 = args.beta2 ?? 0.999;
    this.epsilon = args.epsilon ?? 1e-8;
    this.weightDecay = args.weightDecay ?? defaultWeightDecay;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`${who}: ${what}`);
    };
    check(this.learningRate >= 0, `learningRate must be >= 0, got ${this.learningRate}`);
    check(this.beta1 >= 0 && this.beta1 < 1, `beta1 must be in [0, 1), got ${this.beta1}`);
    check(this.beta2 >= 0 && this.beta2 < 1, `beta2 must be in [0, 1), got ${this.beta2}`);
    check(this.epsilon >= 0, `epsilon must be >= 0, got ${this.epsilon}`);
    check(this.weightDecay >= 0, `weightDecay must be >= 0, got ${this.weightDecay}`);
  }

  /**
   * One update of every variable named in `variableGradients` (keys are `tf.Variable` names;
   * a missing or null gradient leaves that variable and its step count untouched, as in PyTorch).
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: Array<[string, tf.Tensor | null | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const { learningRate: lr, beta1, beta2, epsilon, weightDecay: wd } = this;
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const param = tf.engine().registeredVariables[name];
      if (param == null) throw new Error(`${this.getClassName()}: no variable named '${name}' is registered`);
      if (!param.trainable) continue;
      let slot = this.slots.get(name);
      if (!slot) {
        // tidy: tf.variable keeps its own reference, the zerosLike tensors must go.
        slot = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(param), false), v: tf.variable(tf.zerosLike(param), false), step: 0 }));
        this.slots.set(name, slot);
      }
      const s = slot;
      s.step += 1;
      // Bias corrections in float64 on the JS side, as PyTorch computes them from a Python float step.
      const bc1 = 1 - Math.pow(beta1, s.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, s.step));
      tf.tidy(() => {
        let theta: tf.Tensor = param;
        let g: tf.Tensor = grad;
        if (wd !== 0) {
          if (this.decoupled) theta = tf.mul(theta, 1 - lr * wd);
          else g = tf.add(g, tf.mul(param, wd));
        }
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), epsilon);
        s.m.assign(m);
        s.v.assign(v);
        param.assign(tf.sub(theta, tf.mul(tf.div(m, denom), lr / bc1)));
      });
    }
    this.incrementIterations();
  }

  /** Releases the moment estimates. */
  override dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }

  /**
   * The optimizer state: the iteration count (`iter`), then per variable `<name>/m`, `<name>/v`
   * and `<name>/step`. The tensors are snapshots (later steps do not change them); the caller
   * disposes them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const [name, s] of this.slots) {
      out.push({ name: `${name}/m`, tensor: tf.clone(s.m) });
      out.push({ name: `${name}/v`, tensor: tf.clone(s.v) });
      out.push({ name: `${name}/step`, tensor: tf.scalar(s.step, 'int32') });
    }
    return out;
  }

  /** Restores a state written by {@link getWeights} (the tensors are copied; the caller keeps them). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (weightValues.length === 0 || weightValues[0].name !== 'iter') {
      throw new Error(`${this.getClassName()}.setWeights: the first entry must be 'iter'`);
    }
    const rest = await this.extractIterations(weightValues);
    const parts = new Map<string, { m?: tf.Tensor; v?: tf.Tensor; step?: number }>();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      const key = name.slice(cut + 1);
      const varName = name.slice(0, cut);
      if (cut < 0 || (key !== 'm' && key !== 'v' && key !== 'step')) {
        throw new Error(`${this.getClassName()}.setWeights: unexpected entry '${name}' (expected <variable>/m, /v or /step)`);
      }
      const p = parts.get(varName) ?? {};
      if (key === 'step') p.step = (await tensor.data())[0];
      else p[key] = tensor;
      parts.set(varName, p);
    }
    const slots = new Map<string, Slot>();
    for (const [name, p] of parts) {
      if (!p.m || !p.v || p.step == null) {
        throw new Error(`${this.getClassName()}.setWeights: incomplete state for '${name}' (needs /m, /v and /step)`);
      }
      if (!tf.util.arraysEqual(p.m.shape, p.v.shape)) {
        throw new Error(`${this.getClassName()}.setWeights: '${name}' has /m ${p.m.shape} but /v ${p.v.shape}`);
      }
      slots.set(name, { m: tf.variable(p.m, false), v: tf.variable(p.v, false), step: p.step });
    }
    this.dispose();
    this.slots = slots;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
  }
}

/**
 * `torch.optim.Adam(params, lr, betas, eps, weight_decay)`: weight decay is an **L2 penalty**
 * folded into the gradient before the moment updates, `g ← g + wd·θ`, so it is rescaled by the
 * adaptive denominator like the rest of the gradient (large-gradient weights are barely decayed).
 * Use {@link AdamW} for decoupled decay.
 * @example
 * ```ts
 * import { Adam, AdamW } from '@busi/core';
 * const adam = new Adam({ learningRate: 1e-4, weightDecay: 1e-5 }); // the paper: L2 added to the gradient, as torch.optim.Adam
 * const adamw = new AdamW({ learningRate: 1e-4, weightDecay: 1e-2 }); // decoupled decay, as torch.optim.AdamW
 * ```
 */
export class Adam extends TorchAdamBase {
  /** Name the optimizer is serialised and registered under (`BusiAdam`), distinct from tfjs's own `Adam`. */
  static className = 'BusiAdam';
  protected readonly decoupled = false;
  constructor(args: AdamArgs = {}) {
    super(args, 0, 'Adam');
  }
}
tf.serialization.registerClass(Adam);

/**
 * `torch.optim.AdamW(params, lr, betas, eps, weight_decay=1e-2)`: **decoupled** weight decay
 * (Loshchilov & Hutter): `θ ← θ − lr·wd·θ` is applied to the weights directly, then the plain
 * Adam step on the undecayed gradient, so every weight shrinks by the same factor `1 − lr·wd`
 * regardless of its gradient history. Default weight decay 1e-2, as PyTorch.
 */
export class AdamW extends TorchAdamBase {
  /** Name the optimizer is serialised and registered under (`BusiAdamW`). */
  static className = 'BusiAdamW';
  protected readonly decoupled = true;
  constructor(args: AdamArgs = {}) {
    super(args, 1e-2, 'AdamW');
  }
}
tf.serialization.registerClass(AdamW);
