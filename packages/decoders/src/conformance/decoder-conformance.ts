import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  BatchNorm2d,
  checkTrainingSteps,
  conformanceFail,
  countTrainableParams,
  sameJson,
  Conv2d,
  MultiTaskModel,
  UnusedWeights,
  createDecoder,
  decoders,
  runConformanceChecks,
  type ConformanceCheck,
  type ConformanceReport,
  type Decoder,
  type Encoder,
} from '@busi/core';

/** Options of {@link decoderConformanceChecks}. */
export interface DecoderConformanceOptions {
  /** Extra decoder arguments for every build. */
  args?: Record<string, unknown>;
  /** Channels of the stand-in encoder, input first. Default [3, 16, 24, 32, 48, 64]. */
  encoderChannels?: number[];
  /** Input [height, width] sizes for the shape checks (divisible by 32). Default [[64, 96], [96, 64], [32, 32]], or from the decoder's `minInputSize` m: [[m, m + 32], [m + 32, m], [m, m]]. */
  sizes?: [number, number][];
  /** Input [height, width] of the training check. Default [64, 64] (or [m, m], see `sizes`). */
  trainSize?: [number, number];
  /** Extra decoder arguments of the save/load and training checks. Default the registry entry's `deterministicArgs` (dropout off, so the passes repeat). */
  trainArgs?: Record<string, unknown>;
  /** Optimiser steps of the training check. Default 3. */
  trainSteps?: number;
  /** SGD learning rate of the training check. Default 1e-2. */
  learningRate?: number;
}

/**
 * A small stand-in encoder made of core layers (stride-2 conv → BN → ReLU per stage; at output
 * stride 16 the last stage keeps its stride and dilates by 2), so decoders are checked in
 * isolation from any real backbone and fast.
 */
export function conformanceEncoder(channels: readonly number[] = [3, 16, 24, 32, 48, 64], outputStride: 8 | 16 | 32 = 32): Encoder {
  const reductions = channels.map((_, i) => (i === 0 ? 1 : Math.min(2 ** i, outputStride)));
  return {
    name: 'conformance-tiny',
    outChannels: [...channels],
    reductions,
    featureNames: reductions.map((r) => (r === 1 ? 'input' : `stride${r}`)),
    outputStride,
    apply(x: tfl.SymbolicTensor) {
      const out = [x];
      let y = x;
      for (let i = 1; i < channels.length; i++) {
        const dilated = reductions[i] === reductions[i - 1];
        y = new Conv2d({
          name: `encoder.s${i}.conv`,
          filters: channels[i],
          kernelSize: 3,
          strides: dilated ? 1 : 2,
          padding: dilated ? 2 : 1,
          dilation: dilated ? 2 : 1,
          useBias: false,
        }).apply(y) as tfl.SymbolicTensor;
        y = new BatchNorm2d({ name: `encoder.s${i}.bn` }).apply(y) as tfl.SymbolicTensor;
        y = tfl.layers.reLU({ name: `encoder.s${i}.relu` }).apply(y) as tfl.SymbolicTensor;
        out.push(y);
      }
      return out;
    },
    getConfig: () => ({
      name: 'conformance-tiny',
      args: { inChannels: channels[0], depth: channels.length - 1, outputStride, prefix: 'encoder' },
    }),
  };
}


/**
 * The contract every registered decoder must keep, as independent checks on a stand-in encoder
 * with the output stride the decoder registered: decoded map shape and stride at several input
 * sizes (non-square included), full-resolution masks in a `MultiTaskModel`, unique PyTorch
 * names under the chosen prefix, configuration round trip, save/load round trip with identical
 * outputs, and a few training steps (finite gradients for every decoder weight, a falling loss,
 * a flat tensor count). Each check throws on failure, so any test runner can wrap them.
 */
export function decoderConformanceChecks(name: string, options: DecoderConformanceOptions = {}): ConformanceCheck[] {
  const args = options.args ?? {};
  const info = decoders.info(name);
  // The stand-in encoder has the depth and output stride the decoder registered (PSPNet: depth 3).
  const channels = (options.encoderChannels ?? [3, 16, 24, 32, 48, 64]).slice(0, info.encoderDepth ? info.encoderDepth + 1 : undefined);
  const outputStride = info.encoderOutputStride ?? 32;
  // A decoder that needs larger inputs (PAN's pyramid pools its stride-16 map thrice) gets its smallest size and one step above.
  const min = info.minInputSize;
  const sizes: [number, number][] =
    options.sizes ??
    (min
      ? [
          [min, min + 32],
          [min + 32, min],
          [min, min],
        ]
      : [
          [64, 96],
          [96, 64],
          [32, 32],
        ]);
  const trainArgs = { ...args, ...(options.trainArgs ?? info.deterministicArgs ?? {}) };
  const decoder = (extra: Record<string, unknown> = {}): Decoder =>
    createDecoder(name, { encoderChannels: channels, ...args, ...extra });
  const multiTask = (extra: Record<string, unknown> = {}) =>
    new MultiTaskModel({
      encoder: conformanceEncoder(channels, outputStride),
      decoder: decoder(extra),
      classificationHead: { dropout: 0 },
    });

  return [
    {
      name: "the registry entry's defaults are every option, and what the factory applies",
      run: async () => {
        const defaults = info.defaults;
        if (!defaults) conformanceFail(name, 'the registry entry has no `defaults` (every option with its default, plain data)');
        const built = createDecoder(name, { encoderChannels: channels }).getConfig().args;
        const want = ['encoderChannels', 'prefix', ...Object.keys(defaults)].sort();
        if (!sameJson(Object.keys(built).sort(), want)) {
          conformanceFail(name, `getConfig() args [${Object.keys(built).sort().join(', ')}] are not encoderChannels, prefix and the entry's defaults [${Object.keys(defaults).join(', ')}]`);
        }
        for (const [key, value] of Object.entries(defaults)) {
          if (!sameJson(built[key], value)) conformanceFail(name, `default ${key}: the entry says ${JSON.stringify(value)}, the factory applies ${JSON.stringify(built[key])}`);
        }
        for (const key of Object.keys(info.deterministicArgs ?? {})) {
          if (!(key in defaults)) conformanceFail(name, `deterministicArgs sets '${key}', which is not one of the entry's options`);
        }
      },
    },
    {
      name: 'decoded map: channels and stride at several input sizes',
      run: async () => {
        const d = decoder();
        if (!Number.isInteger(d.outChannels) || d.outChannels <= 0) conformanceFail(name, `outChannels ${d.outChannels}`);
        if (![1, 2, 4, 8].includes(d.outputStride)) conformanceFail(name, `outputStride ${d.outputStride}`);
        if (!(d.headKernelSize > 0 && d.headKernelSize % 2 === 1)) conformanceFail(name, `headKernelSize ${d.headKernelSize} (odd, positive)`);
        const input = tfl.input({ shape: [null, null, channels[0]] });
        const model = tfl.model({ inputs: input, outputs: d.apply(conformanceEncoder(channels, outputStride).apply(input)) });
        try {
          for (const [h, w] of sizes) {
            const before = tf.memory().numTensors;
            const shape = tf.tidy(() => {
              const y = model.predict(tf.randomNormal([2, h, w, channels[0]])) as tf.Tensor;
              if (!y.dataSync().every(Number.isFinite)) conformanceFail(name, `input ${h}x${w}: non-finite values`);
              return y.shape;
            });
            const want = [2, h / d.outputStride, w / d.outputStride, d.outChannels];
            if (!sameJson(shape, want)) conformanceFail(name, `input ${h}x${w}: decoded map ${JSON.stringify(shape)}, expected ${JSON.stringify(want)}`);
            if (tf.memory().numTensors !== before) conformanceFail(name, `inference leaked ${tf.memory().numTensors - before} tensors`);
          }
        } finally {
          model.dispose();
        }
      },
    },
    {
      name: 'full-resolution mask and class logits in a MultiTaskModel',
      run: async () => {
        const m = multiTask();
        try {
          for (const [h, w] of sizes) {
            const x = tf.randomNormal([2, h, w, channels[0]]) as tf.Tensor4D;
            const { mask, logits } = m.predict(x);
            const shapes = [mask.shape, logits.shape];
            tf.dispose([x, mask, logits]);
            if (!sameJson(shapes, [[2, h, w, 1], [2, 3]])) conformanceFail(name, `input ${h}x${w}: outputs ${JSON.stringify(shapes)}`);
          }
        } finally {
          m.dispose();
        }
      },
    },
    {
      name: 'unique PyTorch names under the prefix',
      run: async () => {
        for (const prefix of [undefined, 'dec']) {
          const m = multiTask(prefix ? { prefix } : {});
          try {
            const names = m.torchParams().map((p) => p.name);
            if (new Set(names).size !== names.length) conformanceFail(name, 'two weights share a PyTorch name');
            const own = names.filter((n) => !/^(encoder|segmentation_head|classification_head)\./.test(n));
            const want = `${prefix ?? 'decoder'}.`;
            const stray = own.filter((n) => !n.startsWith(want));
            if (stray.length) conformanceFail(name, `weights outside the '${want}' prefix: ${stray.slice(0, 3).join(', ')}`);
            if (own.length === 0) conformanceFail(name, 'the decoder has no weights');
            const layerNames = m.model.layers.map((l) => l.name);
            if (new Set(layerNames).size !== layerNames.length) conformanceFail(name, 'two layers share a name');
          } finally {
            m.dispose();
          }
        }
      },
    },
    {
      name: 'getConfig() rebuilds an identical decoder',
      run: async () => {
        const d = decoder();
        const cfg = d.getConfig();
        if (cfg.name.toLowerCase() !== d.name.toLowerCase()) conformanceFail(name, `config name '${cfg.name}' vs decoder name '${d.name}'`);
        if (!sameJson(cfg.args.encoderChannels, channels)) conformanceFail(name, `config args.encoderChannels ${JSON.stringify(cfg.args.encoderChannels)}`);
        const again = createDecoder(cfg.name, cfg.args as never);
        if (!sameJson(again.getConfig(), cfg)) conformanceFail(name, `rebuilt config ${JSON.stringify(again.getConfig())} differs from ${JSON.stringify(cfg)}`);
        const build = (dd: Decoder) => {
          const inputs = channels.map((c, i) => tfl.input({ shape: [null, null, c], name: `f${i}` }));
          return tfl.model({ inputs, outputs: dd.apply(inputs) });
        };
        const a = build(decoder());
        const b = build(again);
        const counts = [countTrainableParams(a), countTrainableParams(b)];
        a.dispose();
        b.dispose();
        if (counts[0] !== counts[1]) conformanceFail(name, `rebuilt decoder has ${counts[1]} parameters, not ${counts[0]}`);
      },
    },
    {
      name: 'save/load round trip gives identical outputs',
      run: async () => {
        const m = multiTask(trainArgs);
        let loaded: MultiTaskModel | undefined;
        try {
          let artifacts: tf.io.ModelArtifacts | undefined;
          await m.save(
            tf.io.withSaveHandler(async (a) => {
              artifacts = a;
              return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
            }),
          );
          loaded = await MultiTaskModel.load(tf.io.fromMemory(artifacts!));
          if (!sameJson(loaded.getConfig().decoder, m.getConfig().decoder)) conformanceFail(name, 'the loaded model has another decoder config');
          const [sh, sw] = min ? [min, min] : [64, 32];
          const x = tf.randomNormal([2, sh, sw, channels[0]]) as tf.Tensor4D;
          const a = m.predict(x);
          const b = loaded.predict(x);
          try {
            for (const [key, t1, t2] of [
              ['mask', a.mask, b.mask],
              ['logits', a.logits, b.logits],
            ] as const) {
              const d1 = t1.dataSync();
              const d2 = t2.dataSync();
              if (!sameJson(t1.shape, t2.shape) || d1.some((v, j) => v !== d2[j])) conformanceFail(name, `${key} differs after save/load`);
            }
          } finally {
            tf.dispose([x, a.mask, a.logits, b.mask, b.logits]);
          }
        } finally {
          m.dispose();
          loaded?.dispose();
        }
      },
    },
    {
      name: 'training steps: finite gradients for every decoder weight, falling loss, flat tensor count',
      run: async () => {
        const m = multiTask(trainArgs);
        const [h, w] = options.trainSize ?? (min ? [min, min] : [64, 64]);
        const x = tf.randomNormal([2, h, w, channels[0]]) as tf.Tensor4D;
        const target = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, h, w, 1]), 0.7), 'float32'));
        const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
        const optimizer = tf.train.sgd(options.learningRate ?? 1e-2);
        const vars = m.trainableVariables();
        const lossFn = () => {
          const { mask, logits } = m.forward(x, true);
          return tf.add(tf.losses.sigmoidCrossEntropy(target, mask), tf.losses.softmaxCrossEntropy(labels, logits)) as tf.Scalar;
        };
        try {
          // Weights the reference keeps but never runs (BusiUnusedWeights, e.g. UPerNet's input-level lateral conv) get no gradient by design.
          const unused = new Set(m.model.layers.filter((l) => l.getClassName() === UnusedWeights.className).map((l) => l.name));
          const decoderVars = new Set(
            m.torchParams()
              .filter((p) => p.variable.trainable && !/^(encoder|segmentation_head|classification_head)\./.test(p.name))
              .filter((p) => !unused.has(p.name.slice(0, p.name.lastIndexOf('.'))))
              .map((p) => (p.variable.read() as tf.Variable).name),
          );
          checkTrainingSteps({ name, lossFn, vars, optimizer, steps: options.trainSteps, mustHaveGradient: (v) => decoderVars.has(v.name) });
        } finally {
          tf.dispose([x, target, labels]);
          optimizer.dispose();
          m.dispose();
        }
      },
    },
  ];
}

/** Runs every check of {@link decoderConformanceChecks}, reporting each (never throws on a failed check). */
export async function runDecoderConformance(name: string, options: DecoderConformanceOptions = {}): Promise<ConformanceReport> {
  return runConformanceChecks(name, decoderConformanceChecks(name, options));
}
