import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  MultiTaskModel,
  Trainer,
  checkTopology,
  checkWeightSpecs,
  decodeTrainerState,
  loadStateDictSafetensors,
  readSafetensors,
  tensorDataset,
  writeSafetensors,
} from '@busi/core';
import { fileSystem, readSplitFile, writePng } from '@busi/data';
import { initBackend } from '@busi/kernels';
import { acquireRunLock } from '../../src/runs/run-lock';
import { SMALL_RUN, changedFiles, cli, treeHash } from '../commands/helpers';

// The bad-input table: every case is a mistake a user (or a hostile file) can make. Each must end
// in the expected exit code with a message naming the argument or file and what was expected,
// with no stack trace, and without changing any file that existed before.

let tmp: string;
const at = (...p: string[]) => path.join(tmp, ...p);

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-bad-input-'));
  const r = await cli(['train', '-o', at('run'), ...SMALL_RUN, '--epochs', '2', '--max-epochs-this-run', '1', '--no-report'], tmp);
  if (r.code !== 0) throw new Error(r.err);
  // A BUSI-shaped folder whose images are not images.
  for (const c of ['benign', 'malignant', 'normal']) {
    fs.mkdirSync(at('busi', c), { recursive: true });
    for (const k of [1, 2, 3, 4]) {
      fs.writeFileSync(at('busi', c, `${c} (${k}).png`), 'not a png');
      fs.writeFileSync(at('busi', c, `${c} (${k})_mask.png`), 'not a png');
    }
  }
  const ids = Array.from({ length: 24 }, (_, i) => `synthetic-${i}`);
  const split = (train: unknown, test: unknown) => JSON.stringify({ format: 'busi-split', version: 1, folds: [{ train, test }] });
  fs.writeFileSync(at('split-notlist.json'), split('synthetic-0', ids.slice(20)));
  fs.writeFileSync(at('split-dup.json'), split(['synthetic-0', 'synthetic-0', ...ids.slice(1, 20)], ids.slice(20)));
  fs.writeFileSync(at('split-bad.json'), '{"format": "busi-split", "folds": [');
  fs.writeFileSync(at('weights.safetensors'), Buffer.from('garbage that is not safetensors'));
  fs.mkdirSync(at('empty'));
  fs.mkdirSync(at('images'));
  await writePng(at('images', 'scan.png'), { data: new Uint8Array(32 * 32 * 3).fill(90), height: 32, width: 32, channels: 3 });
  fs.writeFileSync(at('images', 'old.bmp'), 'BM');
  fs.writeFileSync(at('images', 'broken.png'), 'not a png');
  fs.mkdirSync(at('no-images'));
  fs.writeFileSync(at('no-images', 'readme.txt'), 'text');
  fs.mkdirSync(at('eval-out', 'gallery'), { recursive: true });
  fs.writeFileSync(at('eval-out', 'gallery', 'holiday.png'), 'mine');
  // Hostile model folders, copies of the trained run's best model with an edited model.json.
  const hostile = (name: string, edit: (j: any) => void) => {
    fs.cpSync(at('run', 'best-model'), at(name), { recursive: true });
    const j = JSON.parse(fs.readFileSync(at(name, 'model.json'), 'utf8'));
    edit(j);
    fs.writeFileSync(at(name, 'model.json'), JSON.stringify(j));
  };
  hostile('m-traversal', (j) => (j.weightsManifest[0].paths = ['../../../../../../etc/passwd']));
  hostile('m-nomanifest', (j) => delete j.weightsManifest);
  hostile('m-nolayer', (j) => j.modelTopology.config.layers.splice(4, 1));
  hostile('m-shape', (j) => (j.weightsManifest[0].weights[0].shape = [7, 7, 7, 7]));
  hostile('m-transposed', (j) => (j.weightsManifest[0].weights[0].shape = [...j.weightsManifest[0].weights[0].shape].reverse()));
  hostile('m-dtype', (j) => (j.weightsManifest[0].weights[0].dtype = 'int32'));
  hostile('m-tostring', (j) => (j.weightsManifest[0].weights[0].dtype = 'toString'));
  hostile('m-renamed', (j) => {
    const c = j.modelTopology.config.layers.find((l: any) => l.config.kernel_size).config;
    c.kernel_sBze = c.kernel_size;
    delete c.kernel_size;
  });
  fs.mkdirSync(at('images-mixed'));
  fs.copyFileSync(at('images', 'scan.png'), at('images-mixed', 'scan.png'));
  fs.copyFileSync(at('images', 'broken.png'), at('images-mixed', 'broken.png'));
  // Runs whose checkpoint was damaged.
  fs.cpSync(at('run'), at('run-truncated'), { recursive: true });
  const bin = at('run-truncated', 'checkpoint', 'trainer-state.bin');
  fs.writeFileSync(bin, fs.readFileSync(bin).subarray(0, 100));
  // Truncated, with .complete.json rewritten to match (as a hand-copied checkpoint could be).
  fs.cpSync(at('run-truncated'), at('run-truncated-marked'), { recursive: true });
  const marker = at('run-truncated-marked', 'checkpoint', '.complete.json');
  const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
  m.files['trainer-state.bin'] = 100;
  fs.writeFileSync(marker, JSON.stringify(m));
  fs.cpSync(at('run'), at('run-locked'), { recursive: true });
});

/** Makes writes of files named `name` fail with the errno `code` (as a full or read-only disk does); returns the undo. */
function failWrites(name: string, code: 'ENOSPC' | 'EROFS'): () => void {
  const fail = () => Object.assign(new Error(`${code}: ${code === 'ENOSPC' ? 'no space left on device' : 'read-only file system'}, write`), { code, syscall: 'write' });
  // The module object itself: the `import * as` namespace's properties cannot be redefined.
  const nodeFs: typeof fs = require('node:fs');
  const sync = nodeFs.writeFileSync;
  const spies = [
    jest.spyOn(nodeFs, 'writeFileSync').mockImplementation((file, ...rest) => {
      if (String(file).endsWith(name)) throw fail();
      return sync(file, ...rest);
    }),
    jest.spyOn(nodeFs.promises, 'writeFile').mockImplementation(async (file, ...rest) => {
      if (String(file).endsWith(name)) throw fail();
      return sync(file as string, ...(rest as [string]));
    }),
  ];
  return () => spies.forEach((x) => x.mockRestore());
}
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface CliCase {
  name: string;
  argv: () => string[];
  code: number;
  err: RegExp;
  /** Set-up before the command; returns its undo. */
  setup?: () => () => void;
  /** Further checks after the command. */
  after?: () => void;
}

const S = SMALL_RUN;
const T = (...a: string[]) => ['train', '-o', at('new'), ...a];
const cliCases: CliCase[] = [
  // busi train: arguments
  { name: 'train without --out', argv: () => ['train', ...S], code: 2, err: /--out <run folder> is required/ },
  { name: 'train positional', argv: () => ['train', 'foo', '-o', at('new'), ...S], code: 2, err: /unexpected argument 'foo'/ },
  { name: 'size not a number', argv: () => T(...S, '--size', 'abc'), code: 2, err: /--size must be an integer; got 'abc'/ },
  { name: 'size too small', argv: () => T(...S, '--size', '15'), code: 2, err: /--size must be .*got 15/ },
  { name: 'size not divisible', argv: () => T(...S, '--size', '100'), code: 2, err: /--size 100 is not divisible by the output stride 32 .*nearest valid sizes: 96 or 128/ },
  { name: 'lambda above 1', argv: () => T(...S, '--lambda', '2'), code: 2, err: /--lambda must be .*got 2/ },
  { name: 'lambda negative', argv: () => T(...S, '--lambda=-0.1'), code: 2, err: /--lambda must be .*got -0\.1/ },
  { name: 'lambda text', argv: () => T(...S, '--lambda', 'half'), code: 2, err: /--lambda must be a number; got 'half'/ },
  { name: 'negative value without =', argv: () => T(...S, '--lr', '-1'), code: 2, err: /Option '--lr' argument is ambiguous.*use '--lr=-XYZ'/s },
  { name: 'lr negative', argv: () => T(...S, '--lr=-1'), code: 2, err: /--lr must be .*got -1/ },
  { name: 'batch size 0', argv: () => T(...S, '--batch-size', '0'), code: 2, err: /--batch-size must be .*got 0/ },
  { name: 'batch size fraction', argv: () => T(...S, '--batch-size', '2.5'), code: 2, err: /--batch-size must be an integer; got '2\.5'/ },
  { name: 'micro-batch above batch', argv: () => T(...S, '--micro-batch', '8'), code: 2, err: /--micro-batch 8 is larger than --batch-size 4/ },
  { name: 'unknown encoder', argv: () => T(...S, '--encoder', 'nosuch'), code: 2, err: /unknown encoder 'nosuch'; registered encoders: / },
  { name: 'unknown decoder', argv: () => T(...S, '--decoder', 'nosuch'), code: 2, err: /unknown decoder 'nosuch'; registered decoders: / },
  { name: 'decoder channels text', argv: () => T(...S, '--decoder-channels', '16,x'), code: 2, err: /--decoder-channels must be positive integers .*got '16,x'/ },
  { name: 'decoder channels zero', argv: () => T(...S, '--decoder-channels', '16,0,8,8,8'), code: 2, err: /--decoder-channels must be positive integers/ },
  { name: 'unknown optimizer', argv: () => T(...S, '--optimizer', 'sgd'), code: 2, err: /--optimizer must be one of adam, adamw; got 'sgd'/ },
  { name: 'monitor unknown', argv: () => T(...S, '--monitor', 'val_nosuch'), code: 2, err: /--monitor 'val_nosuch' is not a validation quantity; expected one of val_loss/ },
  { name: 'monitor not validation', argv: () => T(...S, '--monitor', 'loss'), code: 2, err: /--monitor 'loss' is not a validation quantity/ },
  { name: 'data and synthetic', argv: () => T(...S, '--data', at('busi')), code: 2, err: /give --data or --synthetic, not both/ },
  { name: 'no data', argv: () => ['train', '-o', at('new'), '--size', '32'], code: 2, err: /--data <BUSI folder> \(or --synthetic N\) is required/ },
  { name: 'data missing', argv: () => ['train', '-o', at('new'), '--data', at('nope')], code: 2, err: /--data folder '.*nope' not found \(expected the BUSI folder/ },
  { name: 'data is a file', argv: () => ['train', '-o', at('new'), '--data', at('split-bad.json')], code: 2, err: /--data folder '.*split-bad\.json' is a file, not a folder \(expected the BUSI folder/ },
  { name: 'synthetic too few', argv: () => T('--synthetic', '5', '--size', '32'), code: 2, err: /--synthetic must be .*got 5/ },
  { name: 'split file missing', argv: () => T(...S, '--split-file', at('nope.json')), code: 2, err: /--split-file '.*nope\.json' not found/ },
  { name: 'encoder weights missing', argv: () => T(...S, '--encoder-weights', at('nope.safetensors')), code: 2, err: /--encoder-weights file '.*nope\.safetensors' not found/ },
  { name: 'resume and force', argv: () => ['train', '-o', at('run'), '--resume', '--force'], code: 2, err: /give --resume or --force, not both/ },
  { name: 'resume a non-run', argv: () => ['train', '-o', at('empty'), '--resume'], code: 2, err: /--resume: '.*empty' is not a run folder \(no config\.json\)/ },
  { name: 'out exists', argv: () => ['train', '-o', at('run'), ...S], code: 2, err: /run folder '.*run' exists and is not empty; pass --force/ },
  { name: 'out is the data, --force', argv: () => ['train', '-o', at('busi'), '--force', '--data', at('busi'), '--size', '32'], code: 2, err: /--out '.*busi' is the --data input/ },
  { name: 'out above the data, --force', argv: () => ['train', '-o', tmp, '--force', '--data', at('busi'), '--size', '32'], code: 2, err: /--out '.*' contains the --data input '.*busi'/ },
  { name: 'out is the split file, --force', argv: () => ['train', '-o', at('split-dup.json'), '--force', ...S, '--split-file', at('split-dup.json')], code: 2, err: /--out '.*split-dup\.json' is the --split-file input/ },
  { name: 'out is the weights, --force', argv: () => ['train', '-o', at('weights.safetensors'), '--force', ...S, '--encoder-weights', at('weights.safetensors')], code: 2, err: /is the --encoder-weights input/ },
  { name: 'val fraction too big', argv: () => T(...S, '--val-fraction', '0.95'), code: 2, err: /--val-fraction must be .*got 0\.95/ },
  { name: 'epochs 0', argv: () => T(...S, '--epochs', '0'), code: 2, err: /--epochs must be .*got 0/ },
  { name: 'cache unknown', argv: () => T(...S, '--cache', 'ram'), code: 2, err: /--cache must be one of memory, disk, none; got 'ram'/ },
  { name: 'backend unknown', argv: () => T(...S, '--backend', 'gpu'), code: 2, err: /--backend must be one of auto, .*wasm, cpu; got 'gpu'/ },
  { name: 'fold negative', argv: () => T(...S, '--fold=-1'), code: 2, err: /--fold must be .*got -1/ },
  { name: 'dropout 1', argv: () => T(...S, '--dropout', '1'), code: 2, err: /--dropout must be .*got 1/ },
  { name: 'seed negative', argv: () => T(...S, '--seed=-3'), code: 2, err: /--seed must be .*got -3/ },
  { name: 'unknown option', argv: () => T(...S, '--nosuch'), code: 2, err: /--nosuch/ },
  { name: 'missing option value', argv: () => ['train', '-o'], code: 2, err: /-o.*argument|--out/ },
  // busi train: bad files, found before the run folder exists
  { name: 'split train not a list', argv: () => T(...S, '--split-file', at('split-notlist.json')), code: 1, err: /split file '.*split-notlist\.json': fold 0 'train' is string, expected a list of image ids/ },
  { name: 'split duplicate id', argv: () => T(...S, '--split-file', at('split-dup.json')), code: 1, err: /split-dup\.json': fold 0 lists 'synthetic-0' twice in 'train'/ },
  { name: 'split not JSON', argv: () => T(...S, '--split-file', at('split-bad.json')), code: 1, err: /cannot read split file '.*split-bad\.json'/ },
  { name: 'corrupt images', argv: () => ['train', '-o', at('new'), '--data', at('busi'), '--size', '32', '--encoder', 'slim-resnet', '--backend', 'wasm', '--quiet'], code: 1, err: /corrupt or truncated image '.*busi\/benign\/benign \(1\)\.png'/ },
  { name: 'encoder weights not safetensors', argv: () => T(...S, '--encoder', 'resnet18', '--encoder-weights', at('weights.safetensors')), code: 1, err: /safetensors: header length .* exceeds file size|safetensors: .*weights\.safetensors|weights\.safetensors.*safetensors/ },
  // busi train --resume: damaged or busy runs
  { name: 'resume truncated trainer state', argv: () => ['train', '-o', at('run-truncated'), '--resume', '--backend', 'wasm', '--quiet'], code: 1, err: /cannot resume '.*run-truncated': its checkpoint '.*checkpoint' is incomplete \('trainer-state\.bin' is 100 bytes, \.complete\.json lists \d+ \(truncated or replaced\?\)\)/ },
  { name: 'resume truncated trainer state, marker matching', argv: () => ['train', '-o', at('run-truncated-marked'), '--resume', '--backend', 'wasm', '--quiet'], code: 1, err: /checkpoint state '.*trainer-state\.json' with '.*trainer-state\.bin' \(optimizer slots\): the weights manifest describes \d+ bytes but the weights data has 100/ },
  { name: 'train on a full disk (weights)', argv: () => T(...S, '--epochs', '1', '--no-report'), setup: () => failWrites('weights.bin', 'ENOSPC'), code: 1, err: /cannot save the model to '.*new\/(best|last)-model' \(writing weights\.bin\): ENOSPC: no space left on device/ },
  { name: 'train on a read-only disk (checkpoint)', argv: () => T(...S, '--epochs', '1', '--no-report'), setup: () => failWrites('trainer-state.bin', 'EROFS'), code: 1, err: /cannot save the checkpoint '.*new\/checkpoint' \(writing trainer-state\.bin\): EROFS: read-only file system/ },
  { name: 'encoder weights a folder', argv: () => T(...S, '--encoder-weights', at('empty')), code: 2, err: /--encoder-weights file '.*empty' is a folder, expected a \.safetensors file/ },
  { name: 'split file a folder', argv: () => T(...S, '--split-file', at('empty')), code: 2, err: /--split-file '.*empty' is a folder, expected a split file/ },
  { name: 'resume a locked run', argv: () => ['train', '-o', at('run-locked'), '--resume', '--backend', 'wasm', '--quiet'], code: 1, err: /run folder '.*run-locked' is in use by process \d+/ },
  { name: 'force over a locked run', argv: () => ['train', '-o', at('run-locked'), '--force', ...S], code: 1, err: /run folder '.*run-locked' is in use by process \d+/ },
  // busi grid-lambda
  { name: 'lambdas empty', argv: () => ['grid-lambda', '-o', at('grid'), ...S, '--lambdas', ''], code: 2, err: /--lambdas must be numbers in \[0, 1\] separated by commas.*got ''/ },
  { name: 'lambdas trailing comma', argv: () => ['grid-lambda', '-o', at('grid'), ...S, '--lambdas', '0.5,'], code: 2, err: /--lambdas must be numbers in \[0, 1\].*got '0\.5,'/ },
  { name: 'lambdas text', argv: () => ['grid-lambda', '-o', at('grid'), ...S, '--lambdas', 'a,b'], code: 2, err: /--lambdas must be numbers/ },
  { name: 'lambdas repeated', argv: () => ['grid-lambda', '-o', at('grid'), ...S, '--lambdas', '0.5,0.5'], code: 2, err: /--lambdas has a repeated value/ },
  { name: 'lambdas above 1', argv: () => ['grid-lambda', '-o', at('grid'), ...S, '--lambdas', '1.5'], code: 2, err: /--lambdas must be numbers in \[0, 1\]/ },
  { name: 'grid without out', argv: () => ['grid-lambda', ...S], code: 2, err: /--out <folder> is required/ },
  { name: 'grid out above data', argv: () => ['grid-lambda', '-o', tmp, '--force', '--data', at('busi'), '--lambdas', '0.5', '--size', '32'], code: 2, err: /--out '.*' contains the --data input/ },
  { name: 'grid out not empty', argv: () => ['grid-lambda', '-o', at('images'), ...S, '--lambdas', '0.5'], code: 2, err: /'.*images' exists and is not empty; pass --force/ },
  // busi evaluate
  { name: 'evaluate without model', argv: () => ['evaluate'], code: 2, err: /--model <run folder or model folder> is required/ },
  { name: 'evaluate model missing', argv: () => ['evaluate', '--model', at('nope')], code: 2, err: /--model: '.*nope' not found \(expected a run folder or a model folder/ },
  { name: 'evaluate model not a model', argv: () => ['evaluate', '--model', at('empty')], code: 2, err: /--model: '.*empty' is neither a run folder \(config\.json\) nor a model folder \(model\.json\)/ },
  { name: 'evaluate positional', argv: () => ['evaluate', at('run')], code: 2, err: /unexpected argument '.*run'; give the model with --model/ },
  { name: 'evaluate out is the run', argv: () => ['evaluate', '--model', at('run'), '--out', at('run'), '--backend', 'wasm'], code: 2, err: /--out '.*run' contains the --model input '.*best-model'/ },
  { name: 'evaluate out holds foreign files', argv: () => ['evaluate', '--model', at('run'), '--out', at('eval-out'), '--backend', 'wasm'], code: 2, err: /--out '.*eval-out' holds '.*gallery\/holiday\.png', which busi evaluate did not write/ },
  { name: 'evaluate out is the data', argv: () => ['evaluate', '--model', at('run'), '--data', at('busi'), '--out', at('busi'), '--backend', 'wasm'], code: 2, err: /--out '.*busi' is the --data input/ },
  { name: 'evaluate subset validation elsewhere', argv: () => ['evaluate', '--model', at('run'), '--synthetic', '12', '--seed', '5', '--subset', 'validation', '--backend', 'wasm'], code: 2, err: /--subset validation needs a run folder and its own data/ },
  { name: 'evaluate which unknown', argv: () => ['evaluate', '--model', at('run'), '--which', 'middle'], code: 2, err: /--which must be one of best, last; got 'middle'/ },
  { name: 'evaluate gallery negative', argv: () => ['evaluate', '--model', at('run'), '--gallery=-1'], code: 2, err: /--gallery must be .*got -1/ },
  { name: 'evaluate batch 0', argv: () => ['evaluate', '--model', at('run'), '--batch-size', '0'], code: 2, err: /--batch-size must be .*got 0/ },
  { name: 'evaluate model folder without data', argv: () => ['evaluate', '--model', at('m-shape')], code: 2, err: /--data <BUSI folder> \(or --synthetic N\) is required for a model folder outside a run/ },
  { name: 'evaluate traversal model', argv: () => ['evaluate', '--model', at('m-traversal'), '--synthetic', '12', '--size', '32', '--out', at('ev1'), '--backend', 'wasm'], code: 1, err: /m-traversal\/model\.json': weightsManifest path '.*etc\/passwd' leaves the model folder/ },
  { name: 'evaluate edited shape', argv: () => ['evaluate', '--model', at('m-shape'), '--synthetic', '12', '--size', '32', '--out', at('ev2'), '--backend', 'wasm'], code: 1, err: /m-shape\/model\.json': weight file\(s\) \.\/weights\.bin hold \d+ bytes, the manifest's shapes and dtypes describe \d+/ },
  // busi predict
  { name: 'predict without model', argv: () => ['predict', at('images', 'scan.png')], code: 2, err: /--model <run folder or model folder> is required/ },
  { name: 'predict without images', argv: () => ['predict', '--model', at('run')], code: 2, err: /give at least one image file/ },
  { name: 'predict image missing', argv: () => ['predict', at('nope.png'), '--model', at('run')], code: 2, err: /image '.*nope\.png' not found/ },
  { name: 'predict folder without images', argv: () => ['predict', at('no-images'), '--model', at('run')], code: 2, err: /folder '.*no-images' holds no images \(\.png, \.jpg, \.tif, \.webp\)/ },
  { name: 'predict out is the image folder', argv: () => ['predict', at('images'), '--model', at('run'), '--out', at('images'), '--backend', 'wasm'], code: 2, err: /--out '.*images' is the image input/ },
  { name: 'predict out is the run', argv: () => ['predict', at('images', 'scan.png'), '--model', at('run'), '--out', at('run'), '--backend', 'wasm'], code: 2, err: /--out '.*run' contains the --model input/ },
  { name: 'predict threshold 2', argv: () => ['predict', at('images', 'scan.png'), '--model', at('run'), '--threshold', '2'], code: 2, err: /--threshold must be .*got 2/ },
  { name: 'predict size text', argv: () => ['predict', at('images', 'scan.png'), '--model', at('run'), '--size', 'big'], code: 2, err: /--size must be an integer; got 'big'/ },
  { name: 'predict bmp', argv: () => ['predict', at('images', 'old.bmp'), '--model', at('run'), '--out', at('p1'), '--backend', 'wasm'], code: 1, err: /image '.*old\.bmp': unsupported image type '\.bmp'; expected \.png, \.jpg/ },
  { name: 'predict edited dtype', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-dtype'), '--out', at('p6'), '--backend', 'wasm'], code: 1, err: /m-dtype\/model\.json: the weights do not fit the topology \(weight '.*': the manifest says dtype int32, the layer needs float32\)/ },
  { name: 'predict transposed shape', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-transposed'), '--out', at('p7'), '--backend', 'wasm'], code: 1, err: /m-transposed\/model\.json: the weights do not fit the topology \(weight '.*': the manifest says shape \[.*\], the layer needs \[.*\]\)/ },
  { name: 'predict dtype toString', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-tostring'), '--out', at('p8'), '--backend', 'wasm'], code: 1, err: /m-tostring\/model\.json'?: weight '.*' has dtype "toString", expected one of float32/ },
  { name: 'predict renamed config field', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-renamed'), '--out', at('p9'), '--backend', 'wasm'], code: 1, err: /m-renamed\/model\.json: modelTopology cannot be built into layers: layer '.*' \(BusiConv2d\) cannot be built from its config: unlike the other \d+ BusiConv2d layers of the file, it lacks 'kernel_size'; it has 'kernel_sBze'/ },
  { name: 'predict model given as its model.json', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-nomanifest', 'model.json'), '--out', at('p10'), '--backend', 'wasm'], code: 1, err: /m-nomanifest\/model\.json' has no weightsManifest/ },
  {
    name: 'predict a folder with one corrupt image',
    argv: () => ['predict', at('images-mixed'), '--model', at('run'), '--out', at('p11'), '--backend', 'wasm'],
    code: 1,
    err: /corrupt or truncated image '.*images-mixed\/broken\.png'/,
    // The good image is still predicted.
    after: () => expect(fs.existsSync(at('p11', 'scan_mask.png'))).toBe(true),
  },
  { name: 'predict corrupt png', argv: () => ['predict', at('images', 'broken.png'), '--model', at('run'), '--out', at('p2'), '--backend', 'wasm'], code: 1, err: /corrupt or truncated image '.*broken\.png'/ },
  { name: 'predict no manifest', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-nomanifest'), '--out', at('p3'), '--backend', 'wasm'], code: 1, err: /m-nomanifest\/model\.json' has no weightsManifest; without one the model would load with random weights/ },
  { name: 'predict deleted layer', argv: () => ['predict', at('images', 'scan.png'), '--model', at('m-nolayer'), '--out', at('p4'), '--backend', 'wasm'], code: 1, err: /m-nolayer\/model\.json: layer '.*' takes its input from layer '.*', which is not in modelTopology/ },
  // busi demo and the command line itself
  { name: 'demo size 31', argv: () => ['demo', '--size', '31'], code: 2, err: /--size must be .*got 31/ },
  { name: 'demo count 5', argv: () => ['demo', '--count', '5'], code: 2, err: /--count must be .*got 5/ },
  { name: 'unknown command', argv: () => ['trian'], code: 2, err: /unknown command 'trian'\. Did you mean train\?/ },
];

interface ApiCase {
  name: string;
  run: () => unknown;
  err: RegExp;
}

const st = (h: unknown) => {
  const json = new TextEncoder().encode(typeof h === 'string' ? h : JSON.stringify(h));
  const out = new Uint8Array(8 + json.length + 12);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
};
const z = () => tf.zeros([2, 8, 8, 3]) as tf.Tensor4D;
const zm = () => tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
const trainerState = { format: 'busi-trainer-state', version: 1, epoch: 1, batchInEpoch: 0, globalStep: 6, weightSpecs: [{ name: 'iter', shape: [], dtype: 'float32' }] };
const apiCases: ApiCase[] = [
  { name: 'safetensors too short', run: () => readSafetensors(new Uint8Array(3)), err: /safetensors: file is 3 bytes, too short/ },
  { name: 'safetensors dtype constructor', run: () => readSafetensors(st({ a: { dtype: 'constructor', shape: [3], data_offsets: [0, 12] } })), err: /tensor 'a': unsupported dtype "constructor" \(expected one of/ },
  { name: 'safetensors dtype toString', run: () => readSafetensors(st({ a: { dtype: 'toString', shape: [3], data_offsets: [0, 12] } })), err: /tensor 'a': unsupported dtype "toString" \(expected one of/ },
  { name: 'safetensors shape nested 100,000 deep', run: () => readSafetensors(st(`{"a": {"dtype": "F32", "shape": ${'['.repeat(100000)}3${']'.repeat(100000)}, "data_offsets": [0, 12]}}`)), err: /tensor 'a': shape \[\[…\]\] is not a list of non-negative integers/ },
  { name: 'manifest dtype toString', run: () => checkWeightSpecs([{ name: 'w', shape: [1], dtype: 'toString' }], 4, 'm.json'), err: /m\.json: weight 'w' has dtype "toString", expected one of float32/ },
  { name: 'load model from its model.json path', run: () => MultiTaskModel.load(fileSystem(at('m-nomanifest', 'model.json'))), err: /fileSystem: '.*m-nomanifest\/model\.json' is a file, expected a model folder/ },
  {
    name: 'labels 7 for a 3-class model',
    run: async () => {
      const model = await MultiTaskModel.load(fileSystem(at('run', 'best-model')));
      const data = tensorDataset({ images: tf.zeros([2, 32, 32, 3]) as tf.Tensor4D, masks: tf.zeros([2, 32, 32, 1]) as tf.Tensor4D, labels: tf.tensor1d([0, 7], 'int32') });
      try {
        await new Trainer(model, { batchSize: 2 }).trainStep(data, [0, 1]);
      } finally {
        model.dispose();
      }
    },
    err: /labels must be class indices in \[0, 2\] for this 3-class model, got 7/,
  },
  { name: 'safetensors negative shape', run: () => readSafetensors(st({ a: { dtype: 'F32', shape: [-3], data_offsets: [0, 12] } })), err: /tensor 'a': shape \[-3\] is not a list of non-negative integers/ },
  { name: 'state dict from garbage', run: () => loadStateDictSafetensors(new TextEncoder().encode('{"not": "safetensors"}')), err: /safetensors: header length .* exceeds file size/ },
  { name: 'safetensors write mismatch', run: () => writeSafetensors({ a: { shape: [2, 2], data: [1] } }), err: /holds 4 values, data has 1/ },
  { name: 'trainer state wrong format', run: () => decodeTrainerState({ json: { format: 'x' } as never, data: new ArrayBuffer(4) }, 'state.json'), err: /state\.json: not a busi trainer state \(expected "format": "busi-trainer-state"\)/ },
  { name: 'trainer state truncated', run: () => decodeTrainerState({ json: trainerState as never, data: new ArrayBuffer(2) }, 'state.json'), err: /state\.json \(optimizer slots\): the weights manifest describes 4 bytes but the weights data has 2/ },
  { name: 'trainer state negative epoch', run: () => decodeTrainerState({ json: { ...trainerState, epoch: -1 } as never, data: new ArrayBuffer(4) }, 'state.json'), err: /state\.json: epoch is -1, expected a non-negative integer/ },
  { name: 'topology with a missing input', run: () => checkTopology({ config: { layers: [{ name: 'a', class_name: 'Dense', config: {}, inbound_nodes: [[['gone', 0, 0, {}]]] }] } }, 'm.json'), err: /m\.json: layer 'a' takes its input from layer 'gone', which is not in modelTopology/ },
  { name: 'topology not an object', run: () => checkTopology([1, 2], 'm.json'), err: /m\.json: modelTopology is \[1, 2\], expected an object/ },
  { name: 'labels -1', run: () => tensorDataset({ images: z(), masks: zm(), labels: tf.tensor1d([0, -1], 'int32') }), err: /tensorDataset: labels must be class indices \(integers >= 0\); labels\[1\] is -1/ },
  { name: 'masks 255', run: () => tensorDataset({ images: z(), masks: tf.fill([2, 8, 8, 1], 255) as tf.Tensor4D, labels: tf.tensor1d([0, 1], 'int32') }), err: /masks must hold values in \[0, 1\] .*got values from 255 to 255 \(divide 0\/255 masks by 255\)/ },
  { name: 'dataset lengths differ', run: () => tensorDataset({ images: z(), masks: zm(), labels: tf.tensor1d([0], 'int32') }), err: /images, masks and labels must have the same length, got 2, 2, 1/ },
  { name: 'fileSystem weights name', run: () => fileSystem(at('x'), { weightsFileName: '../w.bin' }), err: /invalid weightsFileName '\.\.\/w\.bin'/ },
  { name: 'load model without manifest', run: () => MultiTaskModel.load(fileSystem(at('m-nomanifest'))), err: /m-nomanifest\/model\.json' has no weightsManifest/ },
  { name: 'load model from nowhere', run: () => MultiTaskModel.load(fileSystem(at('nope'))), err: /'.*nope\/model\.json' not found \(expected a model folder/ },
  { name: 'split file duplicate', run: () => readSplitFile(at('split-dup.json'), Array.from({ length: 24 }, (_, i) => `synthetic-${i}`)), err: /fold 0 lists 'synthetic-0' twice in 'train'/ },
  { name: 'lock held', run: () => acquireRunLock(at('run-locked')), err: /run folder '.*run-locked' is in use by process \d+/ },
  { name: 'trainer batch size 0', run: () => new Trainer(null as never, { batchSize: 0 }), err: /Trainer: batchSize must be a positive integer, got 0/ },
];

/** A crash: what a user should never see (a stack trace or a JavaScript internals message). */
const CRASH = /\n\s+at |TypeError|ReferenceError|Cannot read propert|is not a function|undefined is not|Maximum call stack/;

describe('the bad-input table', () => {
  const figures = { cases: 0, clearErrors: 0, crashes: 0, filesLost: 0 };
  afterAll(() => {
    // The figures docs/reliability.md quotes.
    process.stdout.write(`bad-input table: ${figures.cases} cases, ${figures.clearErrors} clear errors, ${figures.crashes} crashes, ${figures.filesLost} files lost or changed\n`);
  });

  test('has at least 80 CLI and API cases', () => {
    expect(cliCases.length + apiCases.length).toBeGreaterThanOrEqual(80);
    expect(new Set([...cliCases, ...apiCases].map((c) => c.name)).size).toBe(cliCases.length + apiCases.length);
  });

  test.each(cliCases.map((c) => [c.name, c] as const))('CLI: %s', async (_name, c) => {
    if (c.name.includes('locked')) fs.writeFileSync(at('run-locked', '.busi-lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), started: 'now', purpose: 'test' }));
    const before = treeHash(tmp);
    const undo = c.setup?.();
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli(c.argv(), tmp);
    } finally {
      undo?.();
    }
    const lost = changedFiles(before, treeHash(tmp));
    figures.cases++;
    figures.crashes += CRASH.test(r.err) ? 1 : 0;
    figures.filesLost += lost.length;
    expect(r.err).toMatch(c.err);
    expect(r.err).not.toMatch(CRASH);
    expect(r.code).toBe(c.code);
    expect(lost).toEqual([]);
    c.after?.();
    // Nothing of a failed new run is left behind, unless it failed while training (on a full disk).
    if (!c.setup) expect(fs.existsSync(at('new'))).toBe(false);
    fs.rmSync(at('new'), { recursive: true, force: true });
    figures.clearErrors++;
  });

  test.each(apiCases.map((c) => [c.name, c] as const))('API: %s', async (_name, c) => {
    fs.writeFileSync(at('run-locked', '.busi-lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), started: 'now', purpose: 'test' }));
    const before = treeHash(tmp);
    const tensors = tf.memory().numTensors;
    let message = 'no error';
    try {
      await c.run();
    } catch (e) {
      message = (e as Error).message;
    }
    const lost = changedFiles(before, treeHash(tmp));
    figures.cases++;
    figures.crashes += CRASH.test(message) ? 1 : 0;
    figures.filesLost += lost.length;
    expect(message).toMatch(c.err);
    expect(message).not.toMatch(CRASH);
    expect(lost).toEqual([]);
    // Tensors the case itself made (z(), zm()) are the case's; a failing loader leaves none.
    if (c.name.startsWith('load')) expect(tf.memory().numTensors).toBe(tensors);
    figures.clearErrors++;
  });
});
