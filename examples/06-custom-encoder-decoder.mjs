// Adding an encoder and a decoder, as a research fork would (docs/architecture.md walks through it):
// each is a small class built from @busi/core's PyTorch-semantics layers, every layer named by its
// module path in the matching PyTorch module (below), registered by name, then usable with every
// registered decoder / encoder, saved and loaded like the built-in ones, and checked by the
// conformance suites that every built-in encoder and decoder passes.
//
//   npm run build && node examples/06-custom-encoder-decoder.mjs
//
// The PyTorch twins, whose state_dict() names and shapes match these models' torchParams():
//
//   class TinyVGGEncoder(nn.Module):                     # registered here as 'tiny-vgg'
//       def __init__(self, in_channels=3, widths=(16, 24, 32, 48, 64), depth=5):
//           super().__init__()
//           self.stages = nn.ModuleList()
//           c = in_channels
//           for w in widths[:depth]:
//               self.stages.append(nn.Sequential(
//                   nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
//                   nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()))
//               c = w
//       def forward(self, x):
//           features = [x]
//           for stage in self.stages:
//               x = stage(x)
//               features.append(x)
//           return features
//
//   class TopDownDecoder(nn.Module):                      # registered here as 'topdown'
//       def __init__(self, encoder_channels, channels=32):
//           super().__init__()
//           self.lateral = nn.ModuleList([nn.Conv2d(c, channels, 1) for c in encoder_channels[2:]])
//           self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
//                                     nn.BatchNorm2d(channels), nn.ReLU())
//       def forward(self, *features):
//           maps = features[2:]                          # strides 4, 8, 16, 32
//           x = self.lateral[-1](maps[-1])
//           for i in range(len(maps) - 2, -1, -1):
//               x = F.interpolate(x, size=maps[i].shape[-2:], mode="nearest") + self.lateral[i](maps[i])
//           return self.fuse(x)                          # stride 4: the head upsamples by 4
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, MultiTaskModel, Resize, featureNamesFor, registerDecoder, registerEncoder } from '@busi/core';
import { runEncoderConformance } from '@busi/backbones';
import { runDecoderConformance } from '@busi/decoders';
import { fileSystem, initBackend } from '@busi/node';

const TINY_WIDTHS = [16, 24, 32, 48, 64];

/** A plain VGG-style encoder: per stage a stride-2 conv and a conv, each with BatchNorm and ReLU. */
class TinyVGGEncoder {
  constructor({ inChannels = 3, depth = 5, outputStride = 32, prefix = 'encoder', widths = TINY_WIDTHS } = {}) {
    if (!(depth >= 1 && depth <= 5)) throw new Error(`tiny-vgg: depth must be 1..5, got ${depth}`);
    if (outputStride !== 32 && outputStride !== 16) throw new Error(`tiny-vgg: outputStride must be 16 or 32, got ${outputStride}`);
    this.name = 'tiny-vgg';
    this.args = { inChannels, depth, outputStride, prefix, widths: [...widths] };
    this.outChannels = [inChannels, ...widths.slice(0, depth)];
    // Output stride 16 (DeepLabV3+): the last stage keeps its resolution and dilates instead (smp's rule).
    const dilateLast = outputStride === 16 && depth === 5;
    this.reductions = [1, 2, 4, 8, 16, dilateLast ? 16 : 32].slice(0, depth + 1);
    this.featureNames = featureNamesFor(this.reductions);
    this.outputStride = this.reductions[depth];
    this.dilateLast = dilateLast;
  }

  apply(input) {
    const { prefix, widths, depth } = this.args;
    const features = [input];
    let x = input;
    for (let s = 0; s < depth; s++) {
      const dilation = this.dilateLast && s === 4 ? 2 : 1;
      const path = `${prefix}.stages.${s}`;
      x = convBnRelu(`${path}`, [0, 1, 2], x, widths[s], dilation === 1 ? 2 : 1, dilation);
      x = convBnRelu(`${path}`, [3, 4, 5], x, widths[s], 1, dilation);
      features.push(x);
    }
    return features;
  }

  getConfig() {
    return { name: this.name, args: structuredClone(this.args) };
  }
}

// Conv3×3 (no bias) → BatchNorm → ReLU, named `<path>.<i>` as the nn.Sequential indices.
function convBnRelu(path, [ci, bi, ri], x, filters, strides, dilation) {
  x = new Conv2d({ name: `${path}.${ci}`, filters, kernelSize: 3, strides, dilation, padding: dilation, useBias: false }).apply(x);
  x = new BatchNorm2d({ name: `${path}.${bi}` }).apply(x);
  return layers.reLU({ name: `${path}.${ri}` }).apply(x);
}

/** A light FPN-like decoder: 1×1 laterals, nearest up-sampling and sums from the deepest map, one fusing conv. */
class TopDownDecoder {
  constructor({ encoderChannels, channels = 32, prefix = 'decoder' }) {
    if (!encoderChannels || encoderChannels.length < 3) throw new Error('topdown: needs an encoder of depth ≥ 2 (a stride-4 feature)');
    this.name = 'topdown';
    this.args = { encoderChannels: [...encoderChannels], channels, prefix };
    this.outChannels = channels;
    this.outputStride = 4; // the segmentation head up-samples ×4 (bilinear) after its conv
    this.headKernelSize = 1;
  }

  apply(features) {
    const { channels, prefix } = this.args;
    const maps = features.slice(2);
    const lateral = (i) => new Conv2d({ name: `${prefix}.lateral.${i}`, filters: channels, kernelSize: 1 }).apply(maps[i]);
    let x = lateral(maps.length - 1);
    for (let i = maps.length - 2; i >= 0; i--) {
      // To the skip's size, not ×2: under output stride 16 the two deepest maps share one size.
      const up = new Resize({ name: `${prefix}.up.${i}`, mode: 'nearest' }).apply([x, maps[i]]);
      x = layers.add({ name: `${prefix}.add.${i}` }).apply([up, lateral(i)]);
    }
    return convBnRelu(`${prefix}.fuse`, [0, 1, 2], x, channels, 1, 1);
  }

  getConfig() {
    return { name: this.name, args: structuredClone(this.args) };
  }
}

registerEncoder('tiny-vgg', (args) => new TinyVGGEncoder(args), { outChannels: [3, ...TINY_WIDTHS], family: 'vgg' });
// The entry lists every option with its default (plain data): the conformance suite checks getConfig against it.
registerDecoder('topdown', (args) => new TopDownDecoder(args), { encoderOutputStride: 32, defaults: { channels: 32 } });

const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);

// Every pairing works: the new encoder with a built-in decoder, a built-in encoder with the new decoder.
const pairs = [
  ['tiny-vgg', 'topdown'],
  ['tiny-vgg', 'unet'],
  ['tiny-vgg', 'deeplabv3plus'],
  ['resnet18', 'topdown'],
];
const shapes = {};
const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 3);
for (const [encoder, decoder] of pairs) {
  const m = new MultiTaskModel({ encoder, decoder });
  const { mask, logits } = m.predict(x);
  shapes[`${decoder}__${encoder}`] = { mask: mask.shape, logits: logits.shape, params: m.countParams().total };
  console.log(`${m.config.name}: mask ${JSON.stringify(mask.shape)}, logits ${JSON.stringify(logits.shape)}, ${m.countParams().total.toLocaleString('en-US')} params`);
  tf.dispose([mask, logits]);
  m.dispose();
}

// The PyTorch names line up with the twins above.
const model = new MultiTaskModel({ encoder: 'tiny-vgg', decoder: 'topdown' });
const names = model.torchParams().map((p) => p.name);
console.log(names.filter((n) => n.startsWith('encoder.stages.0.') || n.startsWith('decoder.lateral.0.')).join('\n'));

// Saved models hold only @busi/core layers and the configuration: loading needs no registry entry.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-example-06-'));
await model.save(fileSystem(path.join(dir, 'model')));
const loaded = await MultiTaskModel.load(fileSystem(path.join(dir, 'model')));
const a = model.predict(x);
const b = loaded.predict(x);
const roundTrip = (await tf.max(tf.abs(tf.sub(a.mask, b.mask))).data())[0];
console.log(`save/load round trip: largest mask difference ${roundTrip}`);
fs.rmSync(dir, { recursive: true, force: true });

// The encoder conformance suite: registry facts, unique PyTorch names, shapes at several sizes,
// output stride 16, shallower depths, getConfig, save/load, training steps without leaks.
const report = await runEncoderConformance('tiny-vgg');
for (const r of report.results) console.log(`  ${r.pass ? 'pass' : 'FAIL'} ${r.check}${r.error ? `: ${r.error}` : ''}`);
console.log(`encoder conformance: ${report.pass ? 'passed' : 'FAILED'}`);
// And the decoder suite, on its own small stand-in encoder: map shapes and strides at several sizes,
// full-size masks, PyTorch names, getConfig, save/load, training steps without leaks.
const decoderReport = await runDecoderConformance('topdown');
for (const r of decoderReport.results) console.log(`  ${r.pass ? 'pass' : 'FAIL'} ${r.check}${r.error ? `: ${r.error}` : ''}`);
console.log(`decoder conformance: ${decoderReport.pass ? 'passed' : 'FAILED'}`);

const result = { shapes, names: names.length, firstNames: names.slice(0, 5), roundTrip, conformance: report.results.map((r) => ({ check: r.check, pass: r.pass })),
  decoderConformance: decoderReport.results.map((r) => ({ check: r.check, pass: r.pass })),
};
tf.dispose([x, a, b]);
model.dispose();
loaded.dispose();
console.log('RESULT ' + JSON.stringify(result));
