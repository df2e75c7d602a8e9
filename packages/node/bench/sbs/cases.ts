/**
 * What the side-by-side benchmark measures, as plain data: the cases (model × size × mode), the
 * issue's targets, and a rough cost model for the time a run will take.
 */
import { PAPER_MODELS, type PaperModel } from '../../src/models/factory';

/** What one case times: batch-1 inference, or one full training step at the training batch. */
export type Mode = 'infer' | 'step';

/** Every mode, in table order. */
export const MODES: readonly Mode[] = ['infer', 'step'];

/** One measured configuration; each side runs it in its own process. */
export interface Case {
  model: PaperModel;
  size: number;
  mode: Mode;
  /** 1 for inference, the training batch for a step (never micro-batched). */
  batch: number;
}

/** Options that decide the cases and how often each runs. */
export interface CaseOptions {
  /** `decoder:encoder` pairs (registry or smp names), or 'all'. */
  models: string;
  sizes: number[];
  modes: Mode[];
  /** Training batch of a step. */
  batch: number;
}

/** The paper's protocol: every model at 448², inference at batch 1, a training step at batch 8. */
export const FULL_RUN = { models: 'all', sizes: [448], modes: [...MODES], batch: 8 } as const;

/** The targets of issue 15: time ratio busi/PyTorch per model, and peak RSS of a step. */
export const TARGETS = {
  /** The two models the paper's headline figures use: at most 1.3× PyTorch's time. */
  headline: { models: ['unet:resnet50', 'unet:efficientnet-b4'], ratio: 1.3 },
  /** Every other paper model: at most 1.5×. */
  otherRatio: 1.5,
  /** Peak RSS of the training step: at most 1.5× PyTorch's. */
  rssRatio: 1.5,
} as const;

/** The time target (busi/PyTorch ratio) of a model. */
export function timeTarget(model: PaperModel): number {
  return (TARGETS.headline.models as readonly string[]).includes(`${model.decoder}:${model.encoder}`) ? TARGETS.headline.ratio : TARGETS.otherRatio;
}

/** The models named by `--models` (`decoder:encoder`, registry or smp spelling), or all 16. */
export function selectModels(spec: string): PaperModel[] {
  if (spec === 'all') return [...PAPER_MODELS];
  return spec.split(',').map((pair) => {
    const [d, e] = pair.split(':').map((s) => s.trim().toLowerCase());
    const hit = PAPER_MODELS.find((m) => (m.decoder === d || m.smpDecoder.toLowerCase() === d) && (m.encoder === e || m.smpEncoder.toLowerCase() === e));
    if (!hit) throw new Error(`--models: '${pair}' is not one of the paper's models (${PAPER_MODELS.map((m) => `${m.decoder}:${m.encoder}`).join(', ')})`);
    return hit;
  });
}

/** Every case of a run, model by model (so a restricted or interrupted run still has whole rows). */
export function listCases(o: CaseOptions): Case[] {
  const out: Case[] = [];
  for (const model of selectModels(o.models)) {
    for (const size of o.sizes) for (const mode of o.modes) out.push({ model, size, mode, batch: mode === 'infer' ? 1 : o.batch });
  }
  return out;
}

/** A case's identity in the resume file: what it measures and how. */
export function caseKey(c: Case, reps: number, threads: number): string {
  return `${c.model.decoder}:${c.model.encoder}:${c.mode}:${c.size}:b${c.batch}:reps${reps}:t${threads}`;
}

/** The smp label of a model, as the reference tables write it. */
export function modelLabel(m: PaperModel): string {
  return `${m.smpDecoder}/${m.smpEncoder}`;
}

/**
 * Assumed sustained throughput (GFLOP/s on 2 cores) of each side for the cost estimate: PyTorch's
 * Unet/ResNet-50 inference took 266 ms for 65 GFLOP on the idle machine (docs/performance.md);
 * busi's inference (wasm + native kernels) about 2.3× that; its training step runs on the native
 * backend, measured about 2.2× slower than wasm + native kernels (~60 GFLOP/s micro-batched).
 * Scaled by the core count.
 */
const ASSUMED_GFLOPS_2CORES = { torch: { infer: 240, step: 130 }, busi: { infer: 105, step: 28 } };

/** Seconds one execution of a case takes on one side, from the model's multiply-accumulates. */
export function estimateSeconds(c: Case, side: 'torch' | 'busi', cores: number): number {
  const flops = 2 * c.model.gmacs * 1e9 * (c.size / 448) ** 2 * c.batch * (c.mode === 'step' ? 3 : 1);
  return flops / (ASSUMED_GFLOPS_2CORES[side][c.mode] * 1e9 * Math.max(1, cores / 2));
}
