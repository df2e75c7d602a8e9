import * as tf from '@tensorflow/tfjs-core';
import { conformanceFail } from './helpers';

/** Arguments of {@link checkTrainingSteps}. */
export interface TrainingStepsCheckArgs {
  /** Subject of the check, prefixed to every error message. */
  name: string;
  /** Scalar loss of the model under test. */
  lossFn: () => tf.Scalar;
  /** Variables to differentiate and update. */
  vars: tf.Variable[];
  /** Variables that must receive a gradient (default: all of `vars`). */
  mustHaveGradient?: (v: tf.Variable) => boolean;
  /** Optimiser taking the steps (the caller disposes it). */
  optimizer: tf.Optimizer;
  /** Steps to take; at least 2. Default 3. */
  steps?: number;
}

/**
 * The training part of the shared encoder/decoder conformance suites: every required variable gets
 * a finite gradient, the loss falls below its first value within a few optimiser steps, and the tensor count stays flat
 * from the second step on (the optimiser creates its slots on the first). Throws `name: reason`.
 */
export function checkTrainingSteps(args: TrainingStepsCheckArgs): void {
  const { name, lossFn, vars, optimizer } = args;
  const required = args.mustHaveGradient ?? (() => true);
  const fail = (message: string): never => conformanceFail(name, message);
  const { value, grads } = tf.variableGrads(lossFn, vars);
  try {
    const missing = vars.filter((v) => required(v) && grads[v.name] == null).map((v) => v.name);
    if (missing.length) fail(`no gradient for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (+${missing.length - 3})` : ''}`);
    const bad = vars.filter((v) => grads[v.name] != null && !grads[v.name].dataSync().every(Number.isFinite)).map((v) => v.name);
    if (bad.length) fail(`non-finite gradient for ${bad.slice(0, 3).join(', ')}`);
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
  const losses: number[] = [];
  const counts: number[] = [];
  const steps = Math.max(2, args.steps ?? 3);
  for (let i = 0; i < steps; i++) {
    const loss = optimizer.minimize(lossFn, true, vars)!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    counts.push(tf.memory().numTensors);
  }
  if (!losses.every(Number.isFinite)) fail(`non-finite loss: ${losses.join(', ')}`);
  // Dropout (the classification head's 0.5, FPN's 0.2) draws new masks every step, so one step's
  // loss is noisy: the check is that training reaches a loss below the first, not that the last
  // step is the lowest. A wrong-signed or zero gradient still fails it.
  if (!(Math.min(...losses.slice(1)) < losses[0])) fail(`loss did not fall: ${losses.map((l) => l.toPrecision(5)).join(' → ')}`);
  if (counts.slice(1).some((c) => c !== counts[1])) fail(`tensor count moved across training steps: ${counts.join(', ')}`);
}
