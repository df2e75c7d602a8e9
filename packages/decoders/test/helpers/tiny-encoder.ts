import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm2d, Conv2d, type Encoder } from '@busi/core';

/**
 * A small stand-in encoder made of core layers: one stride-2 conv + BN + ReLU per stage. With
 * `outputStride: 16` the last stage keeps its stride and dilates by 2, as the real encoders do.
 */
export function tinyEncoder(channels: number[] = [3, 8, 16, 24, 32, 40], outputStride: 16 | 32 = 32): Encoder {
  const reductions = channels.map((_, i) => (i === 0 ? 1 : Math.min(2 ** i, outputStride)));
  return {
    name: 'tiny',
    outChannels: channels,
    reductions,
    featureNames: reductions.map((r) => (r === 1 ? 'input' : `stride${r}`)),
    outputStride,
    apply(x: SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i < channels.length; i++) {
        const dilated = outputStride === 16 && i === 5;
        y = new Conv2d({
          name: `encoder.c${i}`,
          filters: channels[i],
          kernelSize: 3,
          strides: dilated ? 1 : 2,
          padding: dilated ? 2 : 1,
          dilation: dilated ? 2 : 1,
        }).apply(y) as SymbolicTensor;
        y = new BatchNorm2d({ name: `encoder.bn${i}` }).apply(y) as SymbolicTensor;
        y = tfl.layers.reLU({ name: `encoder.relu${i}` }).apply(y) as SymbolicTensor;
        out.push(y);
      }
      return out;
    },
    getConfig: () => ({ name: 'tiny', args: { inChannels: channels[0], depth: channels.length - 1, outputStride, prefix: 'encoder' } }),
  };
}

/** Symbolic encoder features with the given channels (input first) at strides 1, 2, 4, ... (capped at `outputStride`). */
export function featureInputs(channels: readonly number[], outputStride: 16 | 32 = 32): tfl.SymbolicTensor[] {
  return channels.map((c, i) => tfl.input({ shape: [null, null, c], name: `f${i}_${Math.min(2 ** i, outputStride)}` }));
}

/** Trainable parameter count and PyTorch names of a decoder built alone on symbolic features. */
export function decoderStats(
  build: (features: tfl.SymbolicTensor[]) => tfl.SymbolicTensor,
  channels: readonly number[],
): { params: number; names: string[] } {
  const inputs = featureInputs(channels);
  const model = tfl.model({ inputs, outputs: build(inputs) });
  let params = 0;
  const names: string[] = [];
  for (const layer of model.layers) {
    const tp = (layer as unknown as { torchParams?: () => { name: string; variable: tfl.LayerVariable }[] }).torchParams;
    if (!tp) continue;
    for (const p of tp.call(layer)) {
      names.push(p.name);
      if (p.variable.trainable) params += p.variable.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    }
  }
  model.dispose();
  return { params, names };
}

/** The decoder's state-dict names in a parity fixture of `dir` (relative to fixtures/; integer buffers left out). */
export function fixtureDecoderNames(fixture: string, dir = 'parity'): string[] {
  const file = path.resolve(__dirname, '../../../../fixtures', dir, `${fixture}.json`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { state_dict: [string, number[], string][] };
  return json.state_dict.filter(([n, , dt]) => n.startsWith('decoder.') && dt.startsWith('float')).map(([n]) => n);
}

export const RESNET_CHANNELS = [3, 64, 256, 512, 1024, 2048];
export const EFFICIENTNET_B4_CHANNELS = [3, 48, 32, 56, 160, 448];
