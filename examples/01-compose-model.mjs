// Compose a multi-task model by hand: a registered encoder, a decoder built from that encoder's
// channel list, and the two heads that MultiTaskModel adds (segmentation + classification).
//
//   npm run build && node examples/01-compose-model.mjs
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, createDecoder, createEncoder, listDecoders, listEncoders } from '@busi/core';
import '@busi/backbones'; // registers the encoders
import '@busi/decoders'; // registers the decoders
import { initBackend } from '@busi/node';

const backend = await initBackend({ log: false });
console.log(`backend: ${backend.summary}`);
console.log(`encoders: ${listEncoders().join(', ')}`);
console.log(`decoders: ${listDecoders().join(', ')}`);

// Built pieces instead of names: the decoder only needs the encoder's channel list, so any
// registered (or home-made) encoder fits any decoder. A slimmer Unet keeps this example fast.
const encoder = createEncoder('resnet18', { inChannels: 3 });
const decoder = createDecoder('unet', { encoderChannels: encoder.outChannels, decoderChannels: [64, 32, 16, 16, 8] });
const model = new MultiTaskModel({
  encoder,
  decoder,
  classes: 3, // benign / malignant / normal
  classificationHead: { pooling: 'avg', dropout: 0.2 },
});
console.log(model.summary());

// The layer names are the PyTorch module paths of the smp model, so weights map one to one.
const names = model.torchParams().map((p) => p.name);
console.log(`first PyTorch names: ${names.slice(0, 3).join(', ')} ... (${names.length} tensors)`);

// Any height and width divisible by the output stride (32) is accepted.
const x = tf.randomUniform([2, 64, 64, 3]);
const { mask, logits } = model.predict(x);
const probs = tf.softmax(logits);
console.log(`mask logits ${JSON.stringify(mask.shape)}, class logits ${JSON.stringify(logits.shape)}`);
console.log(`class probabilities of image 0: ${Array.from((await probs.data()).slice(0, 3), (p) => p.toFixed(3)).join(' ')}`);

try {
  model.predict(tf.zeros([1, 70, 70, 3]));
} catch (e) {
  console.log(`a 70x70 input is refused: ${e.message}`);
}

const summary = {
  params: model.countParams(),
  maskShape: mask.shape,
  logitsShape: logits.shape,
  probabilitySums: Array.from(await tf.sum(probs, 1).data()),
};
tf.dispose([x, mask, logits, probs]);
model.dispose();
// One machine-readable line, checked by packages/node/test/examples.test.ts.
console.log('RESULT ' + JSON.stringify(summary));
