import * as tf from '@tensorflow/tfjs-core';

// tf.variableGrads with the memory of the backward pass released as it goes. tfjs keeps every
// intermediate gradient and every tensor an op saved for its backward until the whole pass ends,
// so a step's peak is about the forward's saved tensors plus a gradient for each of them (a 448²
// batch-8 Unet / ResNet-50 step peaked at 13.9 GiB where PyTorch, which frees them on the way,
// needs 6.1). Here an op's saved tensors are disposed as soon as its gradient is computed, and a
// tensor's gradient as soon as the op that produced the tensor has used it. The arithmetic is
// tfjs's own, in the same order: the gradients are the same numbers.

/** The engine's tape and scopes: internal to tfjs-core, stable across its 4.x releases. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
}

/** The nodes on a path from one of `xs` to `y`, in tape order, each with only its inputs that depend on `xs`. */
function nodesBetween(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const dependsOnX = new Set(xs.map((x) => x.id));
  const fromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => dependsOnX.has(t.id))) {
      for (const o of node.outputs) dependsOnX.add(o.id);
      fromX.add(node.id);
    }
  }
  const leadsToY = new Set([y.id]);
  const toY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => leadsToY.has(o.id))) {
      for (const t of Object.values(node.inputs)) leadsToY.add(t.id);
      toY.add(node.id);
    }
  }
  return tape
    .filter((node) => fromX.has(node.id) && toY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => dependsOnX.has(t.id))) }));
}

/** What {@link releasingVariableGrads} returns, as `tf.variableGrads` does. */
export interface VariableGradients {
  /** The scalar `f` returned. */
  value: tf.Scalar;
  /** The gradient of `value` per variable name (variables it does not depend on are left out). */
  grads: tf.NamedTensorMap;
}

/**
 * `tf.variableGrads(f, vars)`, releasing the backward pass's tensors as soon as they are used (see
 * the top of this file). `f` must return a scalar; the caller disposes `value` and `grads`.
 * Inside another gradient (higher-order), nothing is released early, as tfjs does.
 */
export function releasingVariableGrads(f: () => tf.Scalar, vars: tf.Variable[]): VariableGradients {
  if (vars.length === 0) throw new Error('releasingVariableGrads: no variables to differentiate');
  const engine = tf.engine() as unknown as EngineInternals;
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  const outermost = engine.state.gradientDepth === 0;
  const tape = engine.state.activeTape ?? [];
  const dropTape = () => {
    if (!outermost) return;
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  };
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    dropTape();
    if (y instanceof tf.Tensor) y.dispose();
    throw new Error('releasingVariableGrads: f must return a scalar tensor');
  }
  const path = nodesBetween(tape, vars, y);
  const keep = new Set<number>([y.id, ...vars.map((v) => v.id)]);
  const result = engine.tidy('backward', () => {
    const grad: Record<number, tf.Tensor> = { [y.id]: tf.onesLike(y) };
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i];
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => grad[o.id] ?? null);
      const inputGradients = node.gradient(dys);
      const produced: tf.Tensor[] = [];
      for (const [name, x] of Object.entries(node.inputs)) {
        if (!(name in inputGradients)) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
        const dx = engine.tidy(() => inputGradients[name]());
        if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
        }
        const current = grad[x.id];
        if (current == null) grad[x.id] = dx;
        else {
          grad[x.id] = tf.add(current, dx);
          current.dispose();
        }
        produced.push(grad[x.id]);
      }
      if (!outermost) continue;
      // This op's backward is done: what it saved, and the gradients of its outputs, are not needed again.
      for (const t of node.saved ?? []) t.dispose();
      node.outputs.forEach((o, k) => {
        const dy = dys[k];
        if (dy == null || keep.has(o.id) || produced.includes(dy)) return;
        dy.dispose();
        delete grad[o.id];
      });
    }
    const grads: tf.NamedTensorMap = {};
    for (const v of vars) if (grad[v.id] != null) grads[v.name] = grad[v.id];
    return { value: y as tf.Scalar, grads } as unknown as tf.TensorContainer;
  }) as unknown as VariableGradients;
  dropTape();
  return result;
}
