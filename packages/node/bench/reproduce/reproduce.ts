/**
 * `npm run reproduce`: trains busi on a named protocol (protocols.ts) over several seeds and, where the
 * PyTorch reference is set up (../shared/reference-tools/README.md), smp on the same protocol and
 * seeds, one after the other (never both at once: PyTorch's threads collapse when a core is taken).
 * Per-epoch records go to .bench/reproduce/<protocol>/<framework>__<model>__seed<S>.jsonl (a run whose
 * file is complete is not repeated). A busi run checkpoints after every epoch in `<that file>.run/`
 * and a later invocation resumes it there, so a run of hours can be spread over several sessions
 * with the same figures as one uninterrupted run. The table of final and best epochs, mean ± sd over seeds,
 * seconds per epoch and the busi - smp differences is written between the markers of
 * docs/reproduction.md.
 *
 * Options: --protocol reduced-128 | paper-448; --models unet:resnet50,unet:efficientnet-b4;
 * --seeds 0,1,2; --reference auto | off; --data DIR (default ../shared/busi/Dataset_BUSI_with_GT);
 * smoke runs only: --epochs N, --max-steps N (training steps per epoch; marks the table as a smoke run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, MultiTaskMetrics, Trainer, type Logs, type MultiTaskModel, type TrainerState } from '@busi/core';
import { BusiDataset, readBusiFolder, stratifiedSplit } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { DiceLoss, FocalLoss, MultiTaskLoss } from '@busi/losses';
import { createModel } from '../../src/models/factory';
import { findCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/runs/run-folder';
import { PROTOCOLS, type Protocol } from './protocols';
import { REFERENCE_TOOLS, referenceAvailable, repoRoot, runPython } from './python';

/** One epoch's record, the same fields for both frameworks (train_reduced.py's names). */
interface EpochRecord {
  epoch: number;
  train_loss: number;
  accuracy: number;
  macro_f1: number;
  iou: number;
  dice: number;
  train_s: number;
}

interface Run {
  framework: 'busi' | 'smp';
  model: string;
  seed: number;
  epochs: EpochRecord[];
}

function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (hit) return hit.slice(name.length + 3);
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function splitStems(protocol: Protocol, data: BusiDataset): { train: number[]; test: number[] } {
  if (protocol.split === 'stratified-80-20') return stratifiedSplit(data.labels, { seed: 0 });
  const file = path.join(REFERENCE_TOOLS, protocol.split.file);
  if (!fs.existsSync(file)) throw new Error(`reproduce: split file '${file}' not found (protocol ${protocol.name})`);
  const split: { train: string[]; test: string[] } = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(data.entries.map((e, i) => [e.id, i]));
  const indices = (ids: string[]) =>
    ids.map((id) => {
      const i = byId.get(id);
      if (i === undefined) throw new Error(`reproduce: '${id}' of ${file} is not in the dataset`);
      return i;
    });
  return { train: indices(split.train), test: indices(split.test) };
}

/** What a busi run's checkpoint carries besides the trainer state: the records of its finished epochs. */
interface RunExtra {
  records: EpochRecord[];
}

async function runBusi(protocol: Protocol, dataDir: string, modelId: string, seed: number, epochs: number, maxSteps: number, runDir: string): Promise<EpochRecord[]> {
  const [decoder, encoder] = modelId.split(':');
  const data = BusiDataset.fromFolder(dataDir, { size: protocol.size, normalization: 'imagenet' });
  const split = splitStems(protocol, data);
  const trainIdx = maxSteps > 0 ? split.train.slice(0, maxSteps * protocol.batchSize) : split.train;
  fs.mkdirSync(runDir, { recursive: true });
  const found = findCheckpoint(runDir);
  let model: MultiTaskModel;
  let state: TrainerState | null = null;
  let records: EpochRecord[] = [];
  if (found.dir) {
    const loaded = await loadCheckpoint<RunExtra>(found.dir);
    model = loaded.model;
    state = loaded.state;
    records = loaded.extra.records;
    console.log(`busi ${modelId} seed ${seed}: resuming from ${found.dir} (epoch ${state.meta.epoch} of ${epochs} done)`);
  } else {
    model = createModel({ encoder, decoder, classes: 3, classificationHead: { dropout: protocol.dropout }, seed });
  }
  const optimizer = new Adam({ learningRate: protocol.learningRate, weightDecay: protocol.weightDecay });
  let started = 0;
  let trained = 0;
  try {
    const trainer = new Trainer(model, {
      epochs,
      batchSize: protocol.batchSize,
      dropLast: true,
      seed,
      optimizer,
      loss: new MultiTaskLoss({
        lambda: protocol.lambda,
        segmentation: new DiceLoss({ variant: 'paper', averaging: 'batch', smooth: protocol.diceSmooth }),
        classification: new FocalLoss({ variant: 'softmax', gamma: protocol.focalGamma }),
      }),
      validationData: data.subset(split.test),
      validationBatchSize: protocol.evalBatchSize,
      metrics: [new MultiTaskMetrics({ numClasses: 3 })],
      callbacks: [
        {
          onEpochBegin: () => {
            started = Date.now();
          },
          // Training time only (as the reference reports it): up to the last step, before validation.
          onBatchEnd: () => {
            trained = Date.now();
          },
          onEpochEnd: (epoch: number, logs: Logs) => {
            records.push({
              epoch: epoch + 1,
              train_loss: logs.loss,
              accuracy: logs.val_accuracy,
              macro_f1: logs.val_macro_f1,
              iou: logs.val_iou,
              dice: logs.val_dice,
              train_s: (trained - started) / 1000,
            });
            console.log(`busi ${modelId} seed ${seed} epoch ${epoch + 1}: ${JSON.stringify(records[records.length - 1])}`);
          },
        },
        // Last, so the saved state includes the other callbacks' work for this epoch.
        {
          onEpochEnd: async (_epoch: number, _logs: Logs, control: unknown) => {
            await saveCheckpoint(runDir, control as Trainer, { records } satisfies RunExtra);
          },
        },
      ],
    });
    if (state) await trainer.setState(state);
    await trainer.fit(data.subset(trainIdx));
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  return records;
}

function runSmp(protocol: Protocol, dataDir: string, modelId: string, seed: number, epochs: number, maxSteps: number, jsonl: string): EpochRecord[] {
  const [decoder, encoder] = modelId.split(':');
  if (decoder !== 'unet') throw new Error(`reproduce: the reference script trains Unet only, not '${decoder}'`);
  const script = path.join(REFERENCE_TOOLS, protocol.referenceScript!);
  runPython(script, ['--data', dataDir, '--encoder', encoder, '--epochs', String(epochs), '--seed', String(seed), '--jsonl', jsonl, '--max-steps', String(maxSteps)], { referenceToolsArg: false });
  return readJsonl(jsonl);
}

function readJsonl(file: string): EpochRecord[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      // train_reduced.py calls accuracy `acc`.
      const r = JSON.parse(l) as EpochRecord & { acc?: number };
      return { ...r, accuracy: r.accuracy ?? r.acc! };
    });
}

function meanSd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

function table(runs: Run[], smoke: boolean): string {
  const lines: string[] = [];
  if (smoke) lines.push('**Smoke run** (shortened epochs or steps): these figures check the pipeline, they are not results.', '');
  lines.push('| model | framework | seed | final acc | final F1 | final IoU | final Dice | best Dice (epoch) | s/epoch |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const last = r.epochs[r.epochs.length - 1];
    const best = r.epochs.reduce((a, b) => (b.dice > a.dice ? b : a));
    const secs = r.epochs.reduce((a, b) => a + b.train_s, 0) / r.epochs.length;
    lines.push(`| ${r.model} | ${r.framework} | ${r.seed} | ${last.accuracy.toFixed(3)} | ${last.macro_f1.toFixed(3)} | ${last.iou.toFixed(3)} | ${last.dice.toFixed(3)} | ${best.dice.toFixed(3)} (${best.epoch}) | ${secs.toFixed(0)} |`);
  }
  lines.push('', '| model | framework | seeds | final acc mean ± sd | final Dice mean ± sd | final IoU mean ± sd |', '|---|---|---|---|---|---|');
  const keys = [...new Set(runs.map((r) => `${r.model}|${r.framework}`))];
  for (const k of keys) {
    const [model, framework] = k.split('|');
    const rs = runs.filter((r) => r.model === model && r.framework === framework);
    const finals = rs.map((r) => r.epochs[r.epochs.length - 1]);
    lines.push(`| ${model} | ${framework} | ${rs.length} | ${meanSd(finals.map((f) => f.accuracy))} | ${meanSd(finals.map((f) => f.dice))} | ${meanSd(finals.map((f) => f.iou))} |`);
  }
  return lines.join('\n');
}

function writeDocs(text: string): void {
  const file = path.join(repoRoot(), 'docs', 'reproduction.md');
  const doc = fs.readFileSync(file, 'utf8');
  const begin = '<!-- reproduce:begin -->';
  const end = '<!-- reproduce:end -->';
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`reproduce: ${file} has no ${begin} … ${end} markers`);
  const out = `${doc.slice(0, i + begin.length)}\n${text}\n${doc.slice(j)}`;
  fs.writeFileSync(`${file}.tmp`, out);
  fs.renameSync(`${file}.tmp`, file);
}

async function main(): Promise<void> {
  const protocol = PROTOCOLS[arg('protocol', 'reduced-128')];
  if (!protocol) throw new Error(`reproduce: unknown --protocol (known: ${Object.keys(PROTOCOLS).join(', ')})`);
  const models = arg('models', 'unet:resnet50,unet:efficientnet-b4').split(',');
  const seeds = arg('seeds', '0,1,2').split(',').map(Number);
  const epochs = Number(arg('epochs', String(protocol.epochs)));
  const maxSteps = Number(arg('max-steps', '0'));
  const dataDir = path.resolve(arg('data', path.join(repoRoot(), '..', 'shared', 'busi', 'Dataset_BUSI_with_GT')));
  readBusiFolder(dataDir); // fails early, naming the folder
  const wantReference = arg('reference', 'auto');
  const ref = wantReference === 'off' ? { ok: false, why: '--reference off' } : referenceAvailable();
  if (!ref.ok && wantReference === 'on') throw new Error(`reproduce: the PyTorch reference is not available: ${ref.why}`);
  if (!ref.ok) console.log(`reproduce: busi only (${ref.why})`);
  const smoke = epochs !== protocol.epochs || maxSteps > 0;
  const outDir = path.join(repoRoot(), '.bench', 'reproduce', `${protocol.name}${smoke ? '-smoke' : ''}`);
  fs.mkdirSync(outDir, { recursive: true });
  await initBackend({ backend: 'wasm' });
  const runs: Run[] = [];
  for (const model of models) {
    for (const seed of seeds) {
      // Alternate the frameworks, so neither runs on a machine the other has just warmed or loaded.
      const sides: Run['framework'][] = ref.ok && protocol.referenceScript ? ['smp', 'busi'] : ['busi'];
      for (const framework of sides) {
        const file = path.join(outDir, `${framework}__${model.replace(':', '__')}__seed${seed}.jsonl`);
        let records = fs.existsSync(file) ? readJsonl(file) : [];
        if (records.length < epochs) {
          records =
            framework === 'busi'
              ? await runBusi(protocol, dataDir, model, seed, epochs, maxSteps, `${file}.run`)
              : runSmp(protocol, dataDir, model, seed, epochs, maxSteps, `${file}.part`);
          fs.writeFileSync(`${file}.part`, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
          fs.renameSync(`${file}.part`, file);
          // The records are complete: the run's checkpoint is no longer needed.
          fs.rmSync(`${file}.run`, { recursive: true, force: true });
        }
        runs.push({ framework, model, seed, epochs: records });
      }
    }
  }
  const text = table(runs, smoke);
  console.log(text);
  writeDocs(`Protocol \`${protocol.name}\`, ${new Date().toISOString().slice(0, 10)}, ${tf.getBackend()} backend.\n\n${text}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
