import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writePng } from '@busi/data';
import { LOCK_FILE } from '../../src/runs/run-lock';
import { SMALL_RUN, changedFiles, cli, readJson, trainSmallRun, treeHash } from './helpers';

// Nothing the user has is lost: outputs never land on inputs, runs are locked, and a run folder
// survives any kill (simulated here by the states a SIGKILL leaves; the kill campaign in
// packages/node/reliability/kill-test.ts kills real processes).
let tmp: string;
let trained: string;
beforeAll(async () => {
  // Two epochs asked, one trained: a resumable run with one checkpoint.
  ({ tmp, run: trained } = await trainSmallRun('safety', 'trained', ['--epochs', '2', '--max-epochs-this-run', '1', '--no-report']));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the one-epoch run. */
function copyRun(): string {
  const dir = path.join(tmp, `run${n++}`);
  fs.cpSync(trained, dir, { recursive: true });
  return dir;
}

function fakeDataset(dir: string): void {
  for (const c of ['benign', 'malignant', 'normal']) {
    fs.mkdirSync(path.join(dir, c), { recursive: true });
    fs.writeFileSync(path.join(dir, c, `${c} (1).png`), `pixels of ${c}`);
    fs.writeFileSync(path.join(dir, c, `${c} (1)_mask.png`), `mask of ${c}`);
  }
}

const RESUME = ['--resume', '--backend', 'wasm', '--quiet', '--no-report'];

describe('1-4: outputs never overwrite or delete inputs', () => {
  test('train --out equal to or above --data is refused, with --force too, and the dataset stays', async () => {
    const data = path.join(tmp, 'busi');
    fakeDataset(data);
    const before = treeHash(tmp);
    for (const out of [data, tmp]) {
      const r = await cli(['train', '--data', data, '--out', out, '--force', '--size', '64', '--backend', 'wasm'], tmp);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`--out '${out}' (is|contains) the --data input '${data}'`));
    }
    expect(changedFiles(before, treeHash(tmp))).toEqual([]);
  });

  test('grid-lambda --force --out X --data X/data is refused; --force leaves unrelated files in --out', async () => {
    const x = path.join(tmp, 'grid');
    fakeDataset(path.join(x, 'data'));
    fs.writeFileSync(path.join(x, 'notes.txt'), 'mine');
    const before = treeHash(x);
    const r = await cli(['grid-lambda', '--force', '--out', x, '--data', path.join(x, 'data'), '--lambdas', '0.5', '--size', '64'], tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out '.*grid' contains the --data input/);
    fs.rmSync(path.join(x, 'data'), { recursive: true });
    const g = await cli(['grid-lambda', '--force', '--out', x, ...SMALL_RUN, '--lambdas', '0.5', '--epochs', '1'], tmp);
    expect(g.err).toBe('');
    expect(g.code).toBe(0);
    expect(fs.readFileSync(path.join(x, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.existsSync(path.join(x, 'lambda-0.5', 'metrics.json'))).toBe(true);
    expect(before.size).toBeGreaterThan(0);
  });

  test('2: a new run with --force does not touch an unrelated sibling <out>.old', async () => {
    const out = copyRun();
    fs.mkdirSync(`${out}.old`);
    fs.writeFileSync(`${out}.old/keep.txt`, 'unrelated');
    const r = await cli(['train', '-o', out, '--force', ...SMALL_RUN, '--epochs', '1', '--no-report'], tmp);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(`${out}.old/keep.txt`, 'utf8')).toBe('unrelated');
    // Nothing hidden is left beside the run either.
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith(`.${path.basename(out)}.`))).toEqual([]);
  });

  test('3: evaluate refuses an --out holding files it did not write, and the run folder itself', async () => {
    const run = copyRun();
    const out = path.join(tmp, 'eval-out');
    fs.mkdirSync(path.join(out, 'gallery'), { recursive: true });
    fs.writeFileSync(path.join(out, 'gallery', 'holiday.png'), 'mine');
    const before = treeHash(tmp);
    const r = await cli(['evaluate', '--model', run, '--out', out, '--backend', 'wasm'], tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out '.*eval-out' holds '.*gallery\/holiday\.png', which busi evaluate did not write/);
    const own = await cli(['evaluate', '--model', run, '--out', run, '--backend', 'wasm'], tmp);
    expect(own.code).toBe(2);
    expect(own.err).toMatch(/--out '.*' contains the --model input '.*best-model'/);
    expect(changedFiles(before, treeHash(tmp))).toEqual([]);
    // Its own output folder it may replace, as a whole.
    const ok = await cli(['evaluate', '--model', run, '--backend', 'wasm', '--gallery', '1'], tmp);
    expect(ok.code).toBe(0);
    const again = await cli(['evaluate', '--model', run, '--backend', 'wasm', '--gallery', '1'], tmp);
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
  });

  test('4: predict refuses --out equal to the image folder; same-named images get distinct outputs; a bad image is skipped, not fatal', async () => {
    const run = copyRun();
    const imgs = path.join(tmp, 'images');
    fs.mkdirSync(imgs);
    const px = { data: new Uint8Array(40 * 40 * 3).fill(120), height: 40, width: 40, channels: 3 };
    await writePng(path.join(imgs, 'scan.png'), px);
    fs.copyFileSync(path.join(imgs, 'scan.png'), path.join(imgs, 'scan_mask.png'));
    const before = treeHash(imgs);
    const r = await cli(['predict', imgs, '--model', run, '--out', imgs, '--backend', 'wasm'], tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out '.*images' is the image input/);
    expect(changedFiles(before, treeHash(imgs))).toEqual([]);

    const jpg = path.join(tmp, 'other', 'scan.jpg');
    fs.mkdirSync(path.dirname(jpg));
    const sharp = (await import('sharp')).default;
    await sharp(Buffer.from(px.data), { raw: { width: 40, height: 40, channels: 3 } }).jpeg().toFile(jpg);
    const bad = path.join(tmp, 'other', 'broken.png');
    fs.writeFileSync(bad, 'not a png');
    const out = path.join(tmp, 'pred');
    const p = await cli(['predict', path.join(imgs, 'scan.png'), jpg, bad, '--model', run, '--out', out, '--backend', 'wasm'], tmp);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/skipped .*broken\.png/);
    expect(p.err).toMatch(/1 of 3 images could not be read/);
    expect(fs.readdirSync(out).sort()).toEqual(['predictions.json', 'scan-jpg_mask.png', 'scan-jpg_overlay.png', 'scan_mask.png', 'scan_overlay.png']);
    expect(readJson(path.join(out, 'predictions.json')).map((x: { image: string }) => path.basename(x.image))).toEqual(['scan.png', 'scan.jpg']);
    // A file there that predict did not write is never overwritten.
    fs.writeFileSync(path.join(out, 'scan_mask.png'), 'edited by hand');
    fs.rmSync(path.join(out, 'predictions.json'));
    const q = await cli(['predict', path.join(imgs, 'scan.png'), '--model', run, '--out', out, '--backend', 'wasm'], tmp);
    expect(q.code).toBe(2);
    expect(q.err).toMatch(/scan_mask\.png' exists and was not written by busi predict/);
    expect(fs.readFileSync(path.join(out, 'scan_mask.png'), 'utf8')).toBe('edited by hand');
  });
});

describe('5-8: checkpoints, locks and resumes', () => {
  const epochOf = (run: string) => readJson(path.join(run, 'checkpoint', 'trainer-state.json')).epoch;

  test('5: double fault — checkpoint moved aside by one kill, a partial copy and a stale legacy .old from others: resume continues at epoch 2', async () => {
    const run = copyRun();
    const best = treeHash(path.join(run, 'best-model'));
    // Kill 1 happened between "move the old checkpoint aside" and "move the new one in".
    fs.renameSync(path.join(run, 'checkpoint'), path.join(run, '.checkpoint.replaced-AAAAAA'));
    // Kill 2 hit while a later save was staging a copy (incomplete: no marker).
    fs.mkdirSync(path.join(run, '.checkpoint.tmp-BBBBBB', 'model'), { recursive: true });
    fs.writeFileSync(path.join(run, '.checkpoint.tmp-BBBBBB', 'trainer-state.json'), '{"trunc');
    // A half-deleted legacy copy (its files partly gone).
    fs.mkdirSync(path.join(run, 'checkpoint.old'));
    fs.writeFileSync(path.join(run, 'checkpoint.old', 'extra.json'), '{}');
    const r = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/resuming from .*checkpoint: epoch 1 of 2 done/);
    expect(readJson(path.join(run, 'status.json'))).toMatchObject({ status: 'complete', epochsDone: 2 });
    expect(fs.readdirSync(run).filter((f) => f.startsWith('.checkpoint') || f === 'checkpoint.old')).toEqual([]);
    // best-model was not replaced by an epoch-1 restart: it is epoch 1's or epoch 2's, never a fresh model's.
    expect(treeHash(path.join(run, 'best-model')).size).toBe(best.size);
  });

  test('5: the newest complete copy wins when a save was killed after staging it', async () => {
    const run = copyRun();
    const r1 = await cli(['train', '-o', run, ...RESUME, '--epochs', '3', '--max-epochs-this-run', '1'], tmp);
    expect(r1.code).toBe(0);
    expect(epochOf(run)).toBe(2);
    // The epoch-2 copy sits staged (complete), an older epoch-1 copy is in place.
    fs.renameSync(path.join(run, 'checkpoint'), path.join(run, '.checkpoint.tmp-CCCCCC'));
    fs.cpSync(path.join(trained, 'checkpoint'), path.join(run, 'checkpoint'), { recursive: true });
    const r = await cli(['train', '-o', run, ...RESUME, '--max-epochs-this-run', '1'], tmp);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/epoch 2 of 3 done/);
  });

  test('6: a run folder in use is locked; a stale lock (dead pid) is taken over', async () => {
    const run = copyRun();
    fs.writeFileSync(path.join(run, LOCK_FILE), JSON.stringify({ pid: process.pid, host: os.hostname(), started: 'now', purpose: 'busi train' }));
    const before = treeHash(run);
    const r = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`run folder '.*' is in use by process ${process.pid}`));
    const f = await cli(['train', '-o', run, '--force', ...SMALL_RUN, '--epochs', '1'], tmp);
    expect(f.code).toBe(1);
    expect(f.err).toMatch(/is in use by process/);
    expect(changedFiles(before, treeHash(run))).toEqual([]);

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.writeFileSync(path.join(run, LOCK_FILE), JSON.stringify({ pid: Number(dead), host: os.hostname(), started: 'then', purpose: 'busi train' }));
    const s = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(s.err).toBe('');
    expect(s.code).toBe(0);
    expect(fs.existsSync(path.join(run, LOCK_FILE))).toBe(false);
  });

  test('7: an incomplete checkpoint, or a missing one after trained epochs, is an error, not a restart at epoch 1', async () => {
    const run = copyRun();
    fs.rmSync(path.join(run, 'checkpoint', 'extra.json'));
    const before = treeHash(run);
    const r = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot resume .*checkpoint' is incomplete \(missing extra\.json\).*starting over would discard the trained epochs/);
    fs.rmSync(path.join(run, 'checkpoint'), { recursive: true });
    const m = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/status\.json says 1 epoch was trained but the run has no checkpoint folder; starting over would discard it\./);
    const after = treeHash(run);
    expect(changedFiles(before, after).filter((f) => !f.startsWith('checkpoint/'))).toEqual([]);
  });

  test('7: a run killed during its final evaluation gets its report on --resume', async () => {
    const run = copyRun();
    const r = await cli(['train', '-o', run, '--resume', '--backend', 'wasm', '--quiet'], tmp);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(run, 'evaluation', 'report.html'))).toBe(true);
    // As if killed while evaluating: status says complete, no report.
    fs.rmSync(path.join(run, 'evaluation'), { recursive: true });
    const again = await cli(['train', '-o', run, '--resume', '--backend', 'wasm', '--quiet'], tmp);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/complete \(2 epochs\) but has no evaluation\/report\.html; evaluating it now/);
    expect(fs.existsSync(path.join(run, 'evaluation', 'report.html'))).toBe(true);
  });

  test('8: temporaries of killed saves are removed on resume', async () => {
    const run = copyRun();
    fs.mkdirSync(path.join(run, '.checkpoint.tmp-DDDDDD', 'model'), { recursive: true });
    fs.writeFileSync(path.join(run, '.checkpoint.tmp-DDDDDD', 'model', 'weights.bin'), Buffer.alloc(4096));
    fs.mkdirSync(path.join(run, '.best-model.tmp-EEEEEE'));
    fs.writeFileSync(path.join(run, 'status.json.tmp-99999'), '{');
    const r = await cli(['train', '-o', run, ...RESUME], tmp);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(run).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
