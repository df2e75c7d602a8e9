import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkTrainingSteps,
  conformanceFail,
  countTrainableParams,
  createEncoder,
  runConformanceChecks,
  sameJson,
  encoders,
  isTorchMappable,
  type ConformanceCheck,
  type ConformanceReport,
  type Encoder,
} from '@busi/core';

/** Options of {@link encoderConformanceChecks}. */
export interface EncoderConformanceOptions {
  /** Extra encoder arguments for every build. */
  args?: Record<string, unknown>;
  /** Input [height, width] sizes for the shape check (divisible by 32). Default [[64, 96], [96, 64], [32, 32]]. */
  sizes?: [number, number][];
  /**
   * Encoders registered with more parameters than this are checked through a slim variant
   * (`slimDepth`) in the save/load and training checks, to keep the suite fast. Default 5e6.
   */
  maxFullParams?: number;
  /** Depth of the slim variant. Default 3 (stem and two stages: every layer type of most families). */
  slimDepth?: number;
  /** Input [height, width] of the training check. Default [64, 64] (at 32×32 the stride-32 BatchNorm would normalise 2 values per channel: ill-conditioned). */
  trainSize?: [number, number];
  /** Optimiser steps of the training check. Default 3. */
  trainSteps?: number;
  /** Extra encoder arguments for the save/load and training checks (e.g. stochastic depth off, so a short loss comparison is not noise). */
  trainArgs?: Record<string, unknown>;
  /** SGD learning rate of the training check. Default 1e-4. */
  learningRate?: number;
}

interface Built {
  encoder: Encoder;
  model: tfl.LayersModel;
}

function build(name: string, args: Record<string, unknown>): Built {
  const encoder = createEncoder(name, args);
  const input = tfl.input({ shape: [null, null, encoder.outChannels[0]] });
  const features = encoder.apply(input);
  return { encoder, model: tfl.model({ inputs: input, outputs: features.slice(1) }) };
}


/** Runs the model at each size (batch 2) and compares every feature's shape; values must be finite, no tensor may leak. */
function checkShapes(name: string, encoder: Encoder, model: tfl.LayersModel, sizes: [number, number][]): void {
  for (const [h, w] of sizes) {
    const before = tf.memory().numTensors;
    const shapes = tf.tidy(() =>
      asList(model.predict(tf.randomNormal([2, h, w, encoder.outChannels[0]])) as tf.Tensor | tf.Tensor[]).map((t) => {
        if (!t.dataSync().every(Number.isFinite)) conformanceFail(name, `input ${h}x${w}: non-finite feature values`);
        return t.shape;
      }),
    );
    const expected = encoder.reductions.slice(1).map((r, i) => [2, h / r, w / r, encoder.outChannels[i + 1]]);
    if (!sameJson(shapes, expected)) {
      conformanceFail(name, `OS${encoder.outputStride} input ${h}x${w}: feature shapes ${JSON.stringify(shapes)}, expected ${JSON.stringify(expected)}`);
    }
    if (tf.memory().numTensors !== before) conformanceFail(name, `inference leaked ${tf.memory().numTensors - before} tensors`);
  }
}

function asList(t: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(t) ? t : [t];
}

/**
 * The contract every registered encoder must keep, as independent checks: registered facts
 * (channels, parameter count), feature shapes at several input sizes (non-square included) for
 * output strides 32 and 16, configuration round trip, save/load round trip with identical
 * outputs, a few training steps (finite gradients for every weight, a falling loss) and a flat
 * tensor count in inference and training. Framework-neutral: each check throws on failure, so
 * any test runner can wrap them (`describe.each(listEncoders())`).
 */
export function encoderConformanceChecks(name: string, options: EncoderConformanceOptions = {}): ConformanceCheck[] {
  const args = options.args ?? {};
  const sizes = options.sizes ?? [
    [64, 96],
    [96, 64],
    [32, 32],
  ];
  const info = encoders.info(name);
  const heavy = (info.params ?? 0) > (options.maxFullParams ?? 5e6);
  const slimArgs = { ...args, ...options.trainArgs, ...(heavy ? { depth: options.slimDepth ?? 3 } : {}) };

  return [
    {
      name: 'registered facts, unique PyTorch names, feature shapes at several input sizes',
      run: async () => {
        const { encoder, model } = build(name, args);
        try {
          if (!sameJson(encoder.outChannels, info.outChannels)) {
            conformanceFail(name, `outChannels [${encoder.outChannels}] differ from the registered [${info.outChannels}]`);
          }
          if (!sameJson(encoder.reductions, [1, 2, 4, 8, 16, 32])) conformanceFail(name, `reductions [${encoder.reductions}] should be [1,2,4,8,16,32]`);
          if (encoder.featureNames.length !== encoder.outChannels.length) conformanceFail(name, 'featureNames and outChannels differ in length');
          if (encoder.outputStride !== 32) conformanceFail(name, `outputStride ${encoder.outputStride} at the default options`);
          const torchNames = model.layers.flatMap((l) => (isTorchMappable(l) ? l.torchParams().map((p) => p.name) : []));
          if (new Set(torchNames).size !== torchNames.length) conformanceFail(name, 'two weights share a PyTorch name');
          const prefix = `${encoder.getConfig().args.prefix}.`;
          const stray = torchNames.filter((n) => !n.startsWith(prefix));
          if (stray.length) conformanceFail(name, `weights outside the '${prefix}' prefix: ${stray.slice(0, 3).join(', ')}`);
          // Unused-but-kept weights (EfficientNet's head) are counted by the reference too.
          const count = countTrainableParams(model);
          if (info.params != null && count !== info.params) conformanceFail(name, `${count} parameters, registered ${info.params}`);
          checkShapes(name, encoder, model, sizes);
        } finally {
          model.dispose();
        }
      },
    },
    {
      name: 'output stride 16: last stage dilated, same channels',
      run: async () => {
        const { encoder, model } = build(name, { ...args, outputStride: 16 });
        try {
          if (!sameJson(encoder.reductions, [1, 2, 4, 8, 16, 16])) conformanceFail(name, `OS16: reductions [${encoder.reductions}]`);
          if (encoder.outputStride !== 16) conformanceFail(name, `OS16: outputStride ${encoder.outputStride}`);
          if (!sameJson(encoder.outChannels, info.outChannels)) conformanceFail(name, `OS16: outChannels [${encoder.outChannels}]`);
          if (encoder.getConfig().args.outputStride !== 16) conformanceFail(name, `OS16: config args.outputStride ${String(encoder.getConfig().args.outputStride)}`);
          checkShapes(name, encoder, model, sizes.slice(0, 1));
        } finally {
          model.dispose();
        }
      },
    },
    {
      name: 'shallower depths return depth+1 features',
      run: async () => {
        for (const depth of [1, 3]) {
          const { encoder, model } = build(name, { ...args, depth });
          try {
            if (encoder.outChannels.length !== depth + 1) conformanceFail(name, `depth ${depth}: ${encoder.outChannels.length} channels listed`);
            if (!sameJson(encoder.outChannels, info.outChannels.slice(0, depth + 1))) conformanceFail(name, `depth ${depth}: outChannels [${encoder.outChannels}]`);
            if (model.outputs.length !== depth) conformanceFail(name, `depth ${depth}: ${model.outputs.length} non-input features`);
          } finally {
            model.dispose();
          }
        }
      },
    },
    {
      name: 'getConfig() rebuilds an identical encoder',
      run: async () => {
        const a = createEncoder(name, { ...args, inChannels: 1, depth: 4 });
        const cfg = a.getConfig();
        if (cfg.name.toLowerCase() !== name.toLowerCase()) conformanceFail(name, `config name '${cfg.name}'`);
        for (const [k, v] of Object.entries({ inChannels: 1, depth: 4 })) {
          if (cfg.args[k] !== v) conformanceFail(name, `config args.${k} = ${String(cfg.args[k])}, built with ${v}`);
        }
        const b = createEncoder(cfg.name, cfg.args);
        if (!sameJson(b.getConfig(), cfg)) conformanceFail(name, `rebuilt config ${JSON.stringify(b.getConfig())} differs from ${JSON.stringify(cfg)}`);
        if (!sameJson(b.outChannels, a.outChannels) || !sameJson(b.reductions, a.reductions)) conformanceFail(name, 'rebuilt encoder has other channels or strides');
      },
    },
    {
      name: `save/load round trip gives identical outputs${heavy ? ' (slim variant)' : ''}`,
      run: async () => {
        const { encoder, model } = build(name, slimArgs);
        let loaded: tfl.LayersModel | undefined;
        try {
          let artifacts: tf.io.ModelArtifacts | undefined;
          await model.save(
            tf.io.withSaveHandler(async (a) => {
              artifacts = a;
              return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
            }),
          );
          loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
          const x = tf.randomNormal([1, 64, 32, encoder.outChannels[0]]);
          const a = asList(model.predict(x) as tf.Tensor | tf.Tensor[]);
          const b = asList(loaded.predict(x) as tf.Tensor | tf.Tensor[]);
          try {
            if (a.length !== b.length) conformanceFail(name, `loaded model has ${b.length} outputs, not ${a.length}`);
            a.forEach((t, i) => {
              const d1 = t.dataSync();
              const d2 = b[i].dataSync();
              if (!sameJson(t.shape, b[i].shape) || d1.some((v, j) => v !== d2[j])) conformanceFail(name, `output ${i} differs after save/load`);
            });
          } finally {
            tf.dispose([x, ...a, ...b]);
          }
        } finally {
          model.dispose();
          loaded?.dispose();
        }
      },
    },
    {
      name: `training steps: finite gradients for every weight, falling loss, flat tensor count${heavy ? ' (slim variant)' : ''}`,
      run: async () => {
        const { encoder, model } = build(name, slimArgs);
        const [h, w] = options.trainSize ?? [64, 64];
        const x = tf.randomNormal([2, h, w, encoder.outChannels[0]]);
        const optimizer = tf.train.sgd(options.learningRate ?? 1e-4);
        const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
        // Weights the reference keeps but never runs (BusiUnusedWeights) get no gradient by design.
        const unused = new Set(
          model.layers.filter((l) => l.getClassName() === 'BusiUnusedWeights').flatMap((l) => l.trainableWeights.map((v) => (v.read() as tf.Variable).name)),
        );
        // Drives every feature towards zero: each weight reaches the loss through some feature.
        const lossFn = () =>
          tf.addN(asList(model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[]).map((f) => tf.mean(tf.square(f)))) as tf.Scalar;
        try {
          checkTrainingSteps({ name, lossFn, vars, optimizer, steps: options.trainSteps, mustHaveGradient: (v) => !unused.has(v.name) });
        } finally {
          x.dispose();
          optimizer.dispose();
          model.dispose();
        }
      },
    },
  ];
}

/** Runs every check of {@link encoderConformanceChecks} and reports each (never throws on a failed check). */
export async function runEncoderConformance(name: string, options: EncoderConformanceOptions = {}): Promise<ConformanceReport> {
  return runConformanceChecks(name, encoderConformanceChecks(name, options));
}
