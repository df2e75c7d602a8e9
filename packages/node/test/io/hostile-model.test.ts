import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel } from '@busi/core';
import { initBackend } from '@busi/kernels';
import '../../src/demo/slim-resnet';
import { fileSystem } from '@busi/data';
import { createModel } from '../../src/models/factory';

// A model folder is untrusted input: whatever its model.json says, loading must end in a clear
// error naming the file (never a read outside the folder, a hang, random weights or a leak).
let tmp: string;
let good: string;
beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-hostile-'));
  good = path.join(tmp, 'good');
  const m = createModel({ encoder: 'slim-resnet', decoder: { name: 'unet', decoderChannels: [8, 8, 8, 8, 8] }, classes: 3 });
  await m.save(fileSystem(good));
  m.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A copy of the good model with its model.json edited by `edit`. */
function variant(edit: (json: any, dir: string) => void): string {
  const dir = path.join(tmp, `v${n++}`);
  fs.cpSync(good, dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json, dir);
  fs.writeFileSync(file, JSON.stringify(json));
  return dir;
}

/** Loads `dir`, expecting an error matching `re`, with no tensor left behind. */
async function refuses(dir: string, re: RegExp): Promise<string> {
  const before = tf.memory().numTensors;
  let message = '';
  await MultiTaskModel.load(fileSystem(dir)).then(
    (m) => {
      m.dispose();
      message = 'loaded';
    },
    (e: Error) => {
      message = e.message;
    },
  );
  expect(message).toMatch(re);
  expect(tf.memory().numTensors).toBe(before);
  return message;
}

const paths = (p: string[]) => (j: any) => {
  j.weightsManifest[0].paths = p;
};

describe('a hostile model folder cannot make the loader read outside it', () => {
  test('the good model loads (control)', async () => {
    const m = await MultiTaskModel.load(fileSystem(good));
    expect(m.model.getWeights().length).toBeGreaterThan(10);
    m.dispose();
  });

  test('".." and absolute paths are refused before anything is read, without revealing the target', async () => {
    const msg = await refuses(variant(paths(['../../../../../../etc/passwd'])), /model\.json.*'\.\.\/.*etc\/passwd' leaves the model folder/);
    expect(msg).not.toMatch(/\d+ bytes/);
    await refuses(variant(paths(['/etc/passwd'])), /model\.json.*'\/etc\/passwd' is absolute/);
    await refuses(variant(paths(['./sub/../../good/weights.bin'])), /leaves the model folder/);
  });

  test('a symbolic link out of the folder, /dev/zero and a FIFO are refused (no unbounded read, no hang)', async () => {
    await refuses(
      variant((j, dir) => {
        fs.symlinkSync('/etc/passwd', path.join(dir, 'w.bin'));
        j.weightsManifest[0].paths = ['w.bin'];
      }),
      /'w\.bin' is a symbolic link out of the model folder/,
    );
    await refuses(variant(paths(['/dev/zero'])), /is absolute/);
    await refuses(
      variant((j, dir) => {
        fs.symlinkSync('/dev/zero', path.join(dir, 'zero.bin'));
        j.weightsManifest[0].paths = ['zero.bin'];
      }),
      /symbolic link out/,
    );
    await refuses(
      variant((j, dir) => {
        execFileSync('mkfifo', [path.join(dir, 'fifo.bin')]);
        j.weightsManifest[0].paths = ['fifo.bin'];
      }),
      /'fifo\.bin' is not a regular file/,
    );
  });

  test('sizes are checked against the manifest before reading: an edited shape names the file', async () => {
    await refuses(
      variant((j) => {
        j.weightsManifest[0].weights[0].shape = [1000, 1000, 3, 3];
      }),
      /model\.json.*weights\.bin hold \d+ bytes.*describe \d+/,
    );
    await refuses(
      variant((j) => {
        j.weightsManifest[0].weights[0].dtype = 'constructor';
      }),
      /model\.json.*weight 'encoder\.conv1\/weight' has dtype "constructor", expected one of/,
    );
  });

  test('a layer deleted from the topology is an error naming it, not an endless loop', async () => {
    const dir = variant((j) => {
      j.modelTopology.config.layers.splice(5, 1);
    });
    await refuses(dir, /model\.json: layer '.+' takes its input from layer '.+', which is not in modelTopology/);
  });

  test('a damaged layer config names the layer and the field, not a tfjs internals message', async () => {
    // The shapes of the seed-1 fuzz cases that ended in "Cannot read properties of undefined".
    const layerOf = (j: any, cls: string) => j.modelTopology.config.layers.find((l: any) => l.class_name === cls && l.config.kernel_size);
    const renamed = await refuses(
      variant((j) => {
        const l = layerOf(j, 'BusiConv2d');
        l.config.kernel_sBze = l.config.kernel_size;
        delete l.config.kernel_size;
      }),
      /model\.json: modelTopology cannot be built into layers: layer 'encoder\.conv1' \(BusiConv2d\) cannot be built from its config: unlike the other \d+ BusiConv2d layers of the file, it lacks 'kernel_size'; it has 'kernel_sBze'/,
    );
    expect(renamed).not.toMatch(/Cannot read|undefined/);
    await refuses(
      variant((j) => {
        layerOf(j, 'BusiConv2d').config.kernel_size = 'abc';
      }),
      /layer 'encoder\.conv1' \(BusiConv2d\) cannot be built from its config: unlike the other \d+ BusiConv2d layers of the file, its 'kernel_size' is "abc", not a list \(tfjs: kernelSize: expected a number or \[h, w\], got "abc"\)/,
    );
    await refuses(
      variant((j) => {
        delete j.modelTopology.config.layers[0].inbound_nodes;
      }),
      /model\.json: layer 'image' \(InputLayer\) has inbound_nodes \(missing\), expected a list \(empty for an InputLayer\)/,
    );
    await refuses(
      variant((j) => {
        j.modelTopology.config.input_layers[0][2] = 2 ** 31;
      }),
      /model\.json: modelTopology input_layers refers to output tensor 2147483648 of layer 'image', expected 0 \(its only output\)/,
    );
    await refuses(
      variant((j) => {
        j.modelTopology.config.layers[1].inbound_nodes[0][0][2] = 1;
      }),
      /model\.json: layer 'encoder\.conv1' refers to output tensor 1 of layer 'image', expected 0/,
    );
    await refuses(
      variant((j) => {
        j.modelTopology.config.input_layers[0][0] = j.modelTopology.config.layers[1].name;
      }),
      /model\.json: modelTopology input_layers names layer 'encoder\.conv1' \(BusiConv2d\), expected an InputLayer/,
    );
  });

  test('an edited dtype of the same byte size names the weight and both dtypes', async () => {
    await refuses(
      variant((j) => {
        j.weightsManifest[0].weights[0].dtype = 'int32';
      }),
      /model\.json: the weights do not fit the topology \(weight 'encoder\.conv1\/weight': the manifest says dtype int32, the layer needs float32\)/,
    );
  });

  test('no weightsManifest is an error, not a model with random weights', async () => {
    await refuses(
      variant((j) => {
        delete j.weightsManifest;
      }),
      /model\.json' has no weightsManifest; without one the model would load with random weights/,
    );
  });

  test('weights that do not fit the layers: the first mismatching weight is named and nothing leaks', async () => {
    // Same byte count, transposed shape: passes the size check, fails in the layer.
    await refuses(
      variant((j) => {
        const w = j.weightsManifest[0].weights[0];
        w.shape = [...w.shape].reverse();
      }),
      /model\.json: the weights do not fit the topology \(weight 'encoder\.conv1\/weight': the manifest says shape \[.*\], the layer needs \[.*\]\)/,
    );
    await refuses(
      variant((j) => {
        j.weightsManifest[0].weights[0].name = 'no.such.layer/weight';
      }),
      /weight 'no\.such\.layer\/weight' belongs to layer 'no\.such\.layer', which is not in modelTopology/,
    );
    // Repeated failures stay flat (each used to leave ~75 tensors).
    const dir = variant((j) => {
      const w = j.weightsManifest[0].weights[0];
      w.shape = [...w.shape].reverse();
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await MultiTaskModel.load(fileSystem(dir)).catch(() => null);
    expect(tf.memory().numTensors).toBe(before);
  });
});
