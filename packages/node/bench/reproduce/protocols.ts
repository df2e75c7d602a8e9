/**
 * Training protocols that busi is reproduced on, as plain data: what both frameworks are asked to do.
 * `reduced-128` is ../shared/reference-tools/reduced-protocol.md exactly (its PyTorch side is
 * train_reduced.py); `paper-448` is the paper's protocol, for machines that can run it (no PyTorch
 * script is set up for it here).
 */
import { RUN_DEFAULTS } from '../../src/runs/run-options';

/** One protocol. */
export interface Protocol {
  /** Name used on the command line and in the docs. */
  name: string;
  /** Square input size. */
  size: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Adam's L2 weight decay (added to the gradient, not decoupled). */
  weightDecay: number;
  lambda: number;
  /** Dropout of the classification head. */
  dropout: number;
  /** Smoothing ε of the batch-pooled foreground/background soft Dice. */
  diceSmooth: number;
  focalGamma: number;
  /** Validation batch size. */
  evalBatchSize: number;
  /**
   * The split: a reference-tools JSON with `train` and `test` lists of image stems, or 'stratified-80-20'
   * (busi's own stratified 8:2 split, seed 0).
   */
  split: { file: string } | 'stratified-80-20';
  /** Script of ../shared/reference-tools that trains smp on this protocol, or null. */
  referenceScript: string | null;
}

export const PROTOCOLS: Record<string, Protocol> = {
  'reduced-128': {
    name: 'reduced-128',
    size: 128,
    epochs: 12,
    batchSize: 8,
    learningRate: 1e-4,
    weightDecay: 1e-5,
    lambda: 0.7,
    dropout: 0.5,
    diceSmooth: 1e-6,
    focalGamma: 2,
    evalBatchSize: 16,
    split: { file: 'split-reduced-seed0.json' },
    referenceScript: 'train_reduced.py',
  },
  'paper-448': {
    name: 'paper-448',
    size: RUN_DEFAULTS.size,
    epochs: RUN_DEFAULTS.epochs,
    batchSize: RUN_DEFAULTS.batchSize,
    learningRate: RUN_DEFAULTS.lr,
    weightDecay: RUN_DEFAULTS.weightDecay,
    lambda: RUN_DEFAULTS.lambda,
    dropout: RUN_DEFAULTS.dropout,
    diceSmooth: 1e-6,
    focalGamma: 2,
    evalBatchSize: 8,
    split: 'stratified-80-20',
    referenceScript: null,
  },
};
