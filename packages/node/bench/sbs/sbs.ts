/**
 * Side-by-side benchmark of busi and PyTorch/smp in one run: for every paper model, batch-1
 * inference and one training step at batch 8 (no micro-batching), the best wall time of each side
 * over interleaved rounds (PyTorch, busi, then busi, PyTorch, ...: a change of load hits both), the
 * peak RSS of each side's step, the ratios and the targets of issue 15 (cases.ts). Each side runs
 * each case in its own process. Without the PyTorch reference (../shared/reference-tools/README.md)
 * it runs busi alone and says so.
 *
 *   node packages/node/bench/run.mjs packages/node/bench/sbs/sbs.ts [options]
 *     --models=all | unet:resnet50,fpn:efficientnet-b4,...   --sizes=448   --batch=8
 *     --modes=infer,step   --rounds=2   --reps=N (default: 3 for inference, 1 for a step)
 *     --warmup=N (default: 2 for inference, 1 for a step)   --threads=N (default: every core)
 *     --backend=auto|native|wasm   (busi; auto: the automatic backend, or 'native' where it fails)
 *     --reference=auto|off   --fresh (forget the resume file)   --estimate (print the cost, run nothing)
 *     --docs | --no-docs (write the table into docs/performance.md; default: only for the full run)
 *     --out=dir (default .bench)
 *
 * Resumable: every finished round of every case is kept in <out>/sbs/state.json, and a rerun with
 * the same options continues where the last one stopped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendChoice } from '@busi/kernels';
import { REFERENCE_TOOLS, referenceAvailable, repoRoot, runPythonCaptured } from '../reproduce/python';
import { childFailure, hostInfo, markdownTable, resultLine, writeBetweenMarkers, writeResults } from '../report';
import { runBusiCase, type BusiCaseArgs, type BusiCaseResult } from './busi-side';
import { FULL_RUN, MODES, TARGETS, caseKey, estimateSeconds, listCases, modelLabel, timeTarget, type Case, type Mode } from './cases';

/** One side's outcome in one round. */
type SideResult = { ms: number; peakRssMiB: number; backend?: string; backendSummary?: string; tensorLeak?: number } | { error: string };

interface CaseState {
  torch: SideResult[];
  busi: SideResult[];
  /** The busi backend this case runs on: the one asked for, or 'native' after the automatic one failed. */
  busiBackend: BackendChoice;
  notes: string[];
}

const SIDE_FILE = path.join(repoRoot(), 'packages', 'node', 'bench', 'sbs', 'torch_side.py');
const DOCS = path.join(repoRoot(), 'docs', 'performance.md');

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function positiveInts(name: string, fallback: string): number[] {
  const values = arg(name, fallback).split(',').map(Number);
  if (!values.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`--${name}: expected positive integers, got '${arg(name, fallback)}'`);
  return values;
}

function options() {
  const modes = arg('modes', MODES.join(',')).split(',') as Mode[];
  const bad = modes.filter((m) => !MODES.includes(m));
  if (bad.length) throw new Error(`--modes: unknown '${bad.join(',')}' (expected ${MODES.join(', ')})`);
  const backend = arg('backend', 'auto') as BackendChoice;
  if (!['auto', 'native', 'wasm'].includes(backend)) throw new Error(`--backend: expected auto, native or wasm, got '${backend}'`);
  const reference = arg('reference', 'auto');
  if (!['auto', 'off'].includes(reference)) throw new Error(`--reference: expected auto or off, got '${reference}'`);
  const reps = process.argv.some((a) => a.startsWith('--reps=')) ? positiveInts('reps', '1')[0] : null;
  const warmup = process.argv.some((a) => a.startsWith('--warmup=')) ? Number(arg('warmup', '1')) : null;
  return {
    models: arg('models', FULL_RUN.models),
    sizes: positiveInts('sizes', FULL_RUN.sizes.join(',')),
    batch: positiveInts('batch', String(FULL_RUN.batch))[0],
    modes,
    rounds: positiveInts('rounds', '2')[0],
    reps: (m: Mode) => reps ?? (m === 'infer' ? 3 : 1),
    warmup: (m: Mode) => warmup ?? (m === 'infer' ? 2 : 1),
    threads: positiveInts('threads', String(os.availableParallelism()))[0],
    backend,
    reference,
    out: arg('out', path.join(process.cwd(), '.bench')),
  };
}
type Options = ReturnType<typeof options>;

/** Whether the options are the paper's full protocol (the run whose table belongs in the docs). */
function isFullRun(o: Options): boolean {
  return o.models === FULL_RUN.models && o.sizes.join() === FULL_RUN.sizes.join() && o.batch === FULL_RUN.batch && o.modes.length === MODES.length;
}

function loadState(file: string, fresh: boolean): Record<string, CaseState> {
  if (fresh || !existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, CaseState>;
}

function saveState(file: string, state: Record<string, CaseState>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, file);
}

function runTorch(c: Case, o: Options): SideResult {
  const res = runPythonCaptured(SIDE_FILE, [
    '--mode', c.mode, '--decoder', c.model.smpDecoder, '--encoder', c.model.smpEncoder, '--size', String(c.size),
    '--batch', String(c.batch), '--reps', String(o.reps(c.mode)), '--warmup', String(o.warmup(c.mode)), '--threads', String(o.threads),
  ]);
  const r = resultLine<{ ms: number; peakRssMiB: number }>(res.stdout);
  return r ? { ms: r.ms, peakRssMiB: r.peakRssMiB } : { error: `PyTorch ${childFailure(res)}` };
}

function runBusi(c: Case, o: Options, backend: BackendChoice): SideResult {
  const args: BusiCaseArgs = {
    decoder: c.model.decoder, encoder: c.model.encoder, mode: c.mode, size: c.size, batch: c.batch,
    warmup: o.warmup(c.mode), reps: o.reps(c.mode), backend,
  };
  const res = spawnSync(process.execPath, [...process.execArgv, __filename, '--busi-child', JSON.stringify(args)], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, BUSI_NATIVE_THREADS: String(o.threads) },
  });
  const r = resultLine<BusiCaseResult>(res.stdout);
  return r ?? { error: `busi on ${backend}: ${childFailure(res)}` };
}

const ok = (r: SideResult | undefined): r is Exclude<SideResult, { error: string }> => r != null && !('error' in r);

/** Runs the remaining rounds of a case, saving after each side. */
function runCase(c: Case, key: string, o: Options, torchOn: boolean, state: Record<string, CaseState>, stateFile: string): void {
  const s = (state[key] ??= { torch: [], busi: [], busiBackend: o.backend, notes: [] });
  for (let round = Math.min(s.torch.length, s.busi.length); round < o.rounds; round++) {
    // Alternate which side goes first, so a slow start of the machine does not always hit the same one.
    const sides: Array<'torch' | 'busi'> = round % 2 === 0 ? ['torch', 'busi'] : ['busi', 'torch'];
    for (const side of sides) {
      if (s[side].length > round) continue;
      // A side that failed once fails again: do not spend the other rounds on it.
      if (s[side].some((r) => !ok(r))) {
        s[side].push(s[side].find((r) => !ok(r))!);
        continue;
      }
      if (side === 'torch') {
        s.torch.push(torchOn ? runTorch(c, o) : { error: 'no reference' });
      } else {
        let r = runBusi(c, o, s.busiBackend);
        if (!ok(r) && s.busiBackend === 'auto') {
          // The automatic backend (wasm) cannot hold every model: its heap stops at 4 GiB.
          s.notes.push(`automatic backend failed (${r.error}); ran on native`);
          s.busiBackend = 'native';
          r = runBusi(c, o, 'native');
        }
        s.busi.push(r);
      }
      saveState(stateFile, state);
      const last = s[side][s[side].length - 1];
      if (!torchOn && side === 'torch') continue;
      console.log(`  ${key} round ${round} ${side}: ${ok(last) ? `${last.ms.toFixed(0)} ms, peak RSS ${last.peakRssMiB} MiB${last.backend ? ` (${last.backend})` : ''}` : last.error}`);
    }
  }
}

/** Best of the rounds: the least disturbed one on a shared machine. */
function best(rs: SideResult[] | undefined): Exclude<SideResult, { error: string }> | { error: string } | null {
  if (!rs || rs.length === 0) return null;
  const good = rs.filter(ok);
  if (good.length === 0) return rs[0] as { error: string };
  return good.reduce((a, b) => (b.ms < a.ms ? b : a));
}

const verdict = (ratio: number, target: number) => `${ratio.toFixed(2)}× ${ratio <= target ? 'met' : 'missed'}`;

/** One table row per model and size, the inference and step cases side by side. */
function tableRows(cases: Case[], o: Options, state: Record<string, CaseState>, torchOn: boolean): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [];
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const g = `${modelLabel(c.model)}@${c.size}`;
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  for (const group of groups.values()) {
    const m = group[0].model;
    const target = timeTarget(m);
    const row: Record<string, string | number> = { model: modelLabel(m), size: group[0].size, target: `≤${target}×` };
    const backends: string[] = [];
    for (const c of group) {
      const s = state[caseKey(c, o.reps(c.mode), o.threads)];
      const label = c.mode === 'infer' ? 'infer b1' : `step b${c.batch}`;
      const t = best(s?.torch);
      const b = best(s?.busi);
      row[`${label} PyTorch ms`] = ok(t ?? undefined) ? Math.round((t as { ms: number }).ms) : torchOn ? ((t as { error?: string })?.error ?? '–') : '–';
      row[`${label} busi ms`] = ok(b ?? undefined) ? Math.round((b as { ms: number }).ms) : ((b as { error?: string })?.error ?? '–');
      const tOk = ok(t ?? undefined) ? (t as { ms: number; peakRssMiB: number }) : null;
      const bOk = ok(b ?? undefined) ? (b as { ms: number; peakRssMiB: number; backend?: string; tensorLeak?: number }) : null;
      row[`${label} ×`] = tOk && bOk ? verdict(bOk.ms / tOk.ms, target) : '–';
      if (c.mode === 'step') {
        row['step RSS PyTorch MiB'] = tOk ? tOk.peakRssMiB : '–';
        row['step RSS busi MiB'] = bOk ? bOk.peakRssMiB : '–';
        row['RSS ×'] = tOk && bOk ? verdict(bOk.peakRssMiB / tOk.peakRssMiB, TARGETS.rssRatio) : '–';
        if (bOk?.tensorLeak) row['tensor leak'] = bOk.tensorLeak;
      }
      backends.push(bOk?.backend ? `${c.mode} ${bOk.backend}` : `${c.mode} –`);
    }
    row['busi backend'] = backends.join(', ');
    rows.push(row);
  }
  return rows;
}

/** Estimated seconds for the rounds of a case still to run (each process also builds its model: a few seconds). */
function caseSeconds(c: Case, o: Options, torchOn: boolean, state: Record<string, CaseState>): number {
  const s = state[caseKey(c, o.reps(c.mode), o.threads)];
  const left = o.rounds - Math.min(s?.torch.length ?? 0, s?.busi.length ?? 0);
  const cores = os.availableParallelism();
  const perProcess = (side: 'torch' | 'busi') => 5 + (o.warmup(c.mode) + o.reps(c.mode)) * estimateSeconds(c, side, cores);
  return left * ((torchOn ? perProcess('torch') : 0) + perProcess('busi'));
}

async function main(): Promise<void> {
  const childAt = process.argv.indexOf('--busi-child');
  if (childAt >= 0) {
    const result = await runBusiCase(JSON.parse(process.argv[childAt + 1]) as BusiCaseArgs);
    console.log(`RESULT ${JSON.stringify(result)}`);
    return;
  }
  const o = options();
  const cases = listCases({ models: o.models, sizes: o.sizes, modes: o.modes, batch: o.batch });
  const ref = o.reference === 'off' ? { ok: false, why: '--reference=off' } : referenceAvailable();
  const stateFile = path.join(o.out, 'sbs', 'state.json');
  const state = loadState(stateFile, flag('fresh'));
  const estimates = cases.map((c) => caseSeconds(c, o, ref.ok, state));
  const total = estimates.reduce((a, b) => a + b, 0);
  console.log(`sbs: ${cases.length} cases × ${o.rounds} rounds, ${cases.length - estimates.filter((e) => e > 0).length} already done (${path.relative(process.cwd(), stateFile)}); ` +
    `estimated ${Math.ceil(total / 60)} min on ${os.availableParallelism()} idle cores (rough, from each model's multiply-accumulates; a loaded machine takes several times longer)`);
  if (!ref.ok) console.log(`sbs: busi only, no PyTorch side (${ref.why}); set up ${REFERENCE_TOOLS} as its README says for the comparison`);
  if (flag('estimate')) return;
  const t0 = performance.now();
  let estimatedSoFar = 0;
  for (const [i, c] of cases.entries()) {
    runCase(c, caseKey(c, o.reps(c.mode), o.threads), o, ref.ok, state, stateFile);
    estimatedSoFar += estimates[i];
    // The estimate corrected by how far off it has been so far in this run.
    const spent = (performance.now() - t0) / 1000;
    const left = estimatedSoFar > 0 ? ((total - estimatedSoFar) * spent) / estimatedSoFar : total - estimatedSoFar;
    console.log(`sbs: ${i + 1}/${cases.length} cases done, ${(spent / 60).toFixed(1)} min so far, about ${Math.ceil(left / 60)} min left`);
  }
  const rows = tableRows(cases, o, state, ref.ok);
  const h = hostInfo();
  const notes = cases.flatMap((c) => (state[caseKey(c, o.reps(c.mode), o.threads)]?.notes ?? []).map((n) => `${modelLabel(c.model)} ${c.size}² ${c.mode}: ${n}`));
  const conditions = [
    `${h.cpu}, ${h.cores} cores, load average ${h.loadavg1} at the end, ${String(h.date).slice(0, 16)}Z, Node ${h.node}`,
    ref.ok ? `PyTorch/smp v0.3.3 on ${o.threads} threads beside busi's native kernels on ${o.threads} threads (backend per row)` : `busi only, no PyTorch side (${ref.why})`,
    `best of ${o.rounds} interleaved rounds; per process ${o.warmup('infer')} + ${o.reps('infer')} inference runs, ${o.warmup('step')} + ${o.reps('step')} steps (warm-ups + timed)`,
    `step: Adam lr 1e-4 (L2 1e-5), 0.7·Dice + 0.3·Focal, batch ${o.batch} in one pass (no micro-batching); RSS: peak resident set of that process`,
  ];
  const md = `Conditions: ${conditions.join('; ')}.\n\n${markdownTable(rows)}${notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
  writeResults('sbs', rows, `busi vs PyTorch side by side (${h.cores} cores)`);
  if (!flag('no-docs') && (flag('docs') || isFullRun(o))) {
    writeBetweenMarkers(DOCS, 'sbs-table', md);
    console.log(`wrote the table into ${path.relative(process.cwd(), DOCS)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
