// PyTorch weights in and out, through safetensors files:
//  1. export a model's weights as a PyTorch state dict (`exportStateDict`, safetensors on disk) and
//     load that file into a freshly built model: both then predict the same;
//  2. load an ImageNet-style *encoder-only* checkpoint (torchvision names: `conv1.weight`,
//     `layer1.0.bn1.running_mean`, ..., `fc.weight`) into the encoder of a model with another
//     decoder (FPN), adapting the first conv to one input channel (gray ultrasound).
//
//   npm run build && node examples/04-pytorch-weights.mjs [out-dir=runs/example-04]
//
// Real checkpoints come from Python. With torch and safetensors installed:
//
//   # an ImageNet encoder from torchvision (resnet*, resnext*, wide_resnet*)
//   import torchvision
//   from safetensors.torch import save_file
//   sd = torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict()
//   save_file({k: v.detach().contiguous() for k, v in sd.items()}, "resnet18-imagenet.safetensors")
//
//   # a whole smp model (e.g. one trained in PyTorch); classification_head needs aux_params
//   import torch, segmentation_models_pytorch as smp
//   m = smp.Unet("resnet18", encoder_weights=None, classes=1, aux_params=dict(classes=3, dropout=0.2))
//   m.load_state_dict(torch.load("checkpoint.pth", map_location="cpu"))
//   save_file({k: v.detach().contiguous() for k, v in m.state_dict().items()}, "unet-resnet18.safetensors")
//
// and in JavaScript: `loadStateDict(model, loadStateDictSafetensors(bytes), { prefix: 'encoder.', ignore: ['fc.'] })`
// for the first, `loadStateDict(model, loadStateDictSafetensors(bytes))` (strict) for the second.
// docs/pytorch-weights.md covers timm and EfficientNet checkpoints and the way back to PyTorch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  MultiTaskModel,
  adaptStateDictInChannels,
  exportStateDict,
  loadStateDict,
  loadStateDictSafetensors,
  saveStateDictSafetensors,
  writeSafetensors,
} from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { initBackend } from '@busi/node';

const outDir = path.resolve(process.argv[2] ?? 'runs/example-04');
fs.mkdirSync(outDir, { recursive: true });
const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);

const spec = { encoder: 'resnet18', decoder: { name: 'unet', decoderChannels: [64, 32, 16, 16, 8] } };
const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 5);

// --- 1. A whole model: export, write, read, load (strict: every name and shape must match).
const source = new MultiTaskModel(spec);
const file = path.join(outDir, 'unet-resnet18.safetensors');
fs.writeFileSync(file, saveStateDictSafetensors(source, { format: 'pt' }));
console.log(`wrote ${exportStateDict(source).size} tensors (${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB) to ${file}`);

const target = new MultiTaskModel(spec); // new random weights
const loaded = loadStateDict(target, loadStateDictSafetensors(fs.readFileSync(file)));
const before = source.predict(x);
const after = target.predict(x);
const maxDiff = (await tf.max(tf.abs(tf.sub(before.logits, after.logits))).data())[0];
console.log(`loaded ${loaded.loaded} tensors; largest class-logit difference to the source model: ${maxDiff}`);

// --- 2. An encoder-only checkpoint with torchvision's names, as the Python snippet above writes it.
// Here its values come from `source`'s encoder; torchvision also stores `num_batches_tracked`
// (int64) and the ImageNet classifier `fc`, which the encoder does not have.
const tv = new Map();
for (const [name, e] of exportStateDict(source)) {
  if (!name.startsWith('encoder.')) continue;
  const bare = name.slice('encoder.'.length);
  tv.set(bare, { dtype: 'F32', shape: e.shape, data: e.data });
  if (bare.endsWith('.running_var')) tv.set(bare.replace(/running_var$/, 'num_batches_tracked'), { dtype: 'I64', shape: [], data: new BigInt64Array([100n]) });
}
tv.set('fc.weight', { shape: [1000, 512], data: new Float32Array(512000) });
tv.set('fc.bias', { shape: [1000], data: new Float32Array(1000) });
const tvFile = path.join(outDir, 'resnet18-torchvision-style.safetensors');
fs.writeFileSync(tvFile, writeSafetensors(tv, { format: 'pt' }));

// A grayscale FPN model: the first conv takes 1 channel, so the RGB kernel is summed over its
// input channels (smp's rule), which gives a gray image the response RGB weights give R = G = B.
const gray = new MultiTaskModel({ encoder: 'resnet18', decoder: 'fpn', inChannels: 1 });
const encoderSd = adaptStateDictInChannels(loadStateDictSafetensors(fs.readFileSync(tvFile)), 1);
const enc = loadStateDict(gray, encoderSd, { prefix: 'encoder.', ignore: ['fc.'], strict: false });
const onlyDecoderAndHeadsMissing = enc.missing.every((n) => !n.startsWith('encoder.'));
console.log(
  `encoder checkpoint into ${gray.config.name}: ${enc.loaded} tensors loaded, ${enc.unexpected.length} unexpected, ` +
    `${enc.missing.length} missing (decoder and heads only: ${onlyDecoderAndHeadsMissing})`,
);

// The gray model's encoder now sees a gray image as the RGB encoder sees the same image in RGB.
const g = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 9);
const rgbFeatures = source.featuresModel().predict(tf.tile(g, [1, 1, 1, 3]));
const grayFeatures = gray.featuresModel().predict(g);
const deepest = (list) => list[list.length - 1];
const featureDiff = (await tf.max(tf.abs(tf.sub(deepest(rgbFeatures), deepest(grayFeatures)))).data())[0];
console.log(`deepest encoder feature, gray model vs RGB model on a replicated gray image: max difference ${featureDiff.toExponential(2)}`);

const result = {
  loaded: loaded.loaded,
  maxDiff,
  encoderLoaded: enc.loaded,
  unexpected: enc.unexpected,
  onlyDecoderAndHeadsMissing,
  featureDiff,
};
tf.dispose([x, g, before, after, rgbFeatures, grayFeatures]);
for (const m of [source, target, gray]) m.dispose();
console.log('RESULT ' + JSON.stringify(result));
