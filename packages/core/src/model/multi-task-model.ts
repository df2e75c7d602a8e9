import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Decoder, DecoderConfig } from '../contracts/decoder';
import type { Encoder, EncoderConfig } from '../contracts/encoder';
import { ClassificationHead, type ClassificationHeadArgs } from '../heads/classification-head';
import { SegmentationHead } from '../heads/segmentation-head';
import { loadLayersModelChecked } from '../io/load-layers-model';
import { isTorchMappable, type TorchParam } from '../layers/torch-params';
import { initializeWeights, reseedStochasticLayers } from '../random/seeding';
import { createDecoder, createEncoder, decoders } from '../registry/index';
import { MODEL_CARD_KEY, validateModelCard, type ModelCard } from './model-card';
import { SMP_DECODER_AND_HEADS_INIT, TORCH_DEFAULT_INIT, type ModelInitSpec } from '../init/init-spec';
import { initializeLikeReference } from '../init/initialize';

/** A registry name with the factory's arguments beside it, e.g. `{ name: 'resnet50', outputStride: 16 }`. */
export type NamedArgs = {
  /** Registry name (or alias); the other keys are the factory's arguments. */
  name: string;
} & Record<string, unknown>;

/** An encoder given by registry name, by `{ name, ...args }`, or as a built {@link Encoder}. */
export type EncoderSpec = string | NamedArgs | Encoder;
/** A decoder given by registry name, by `{ name, ...args }`, or as a built {@link Decoder}. */
export type DecoderSpec = string | NamedArgs | Decoder;

/** Constructor arguments of {@link MultiTaskModel}. */
export interface MultiTaskModelArgs {
  /** The shared encoder, e.g. 'resnet50'. */
  encoder: EncoderSpec;
  /** The segmentation decoder, e.g. 'unet'. It is built from the encoder's channel list. */
  decoder: DecoderSpec;
  /** Input channels when the encoder is given by name. Default 3. */
  inChannels?: number;
  /** Number of image classes (benign / malignant / normal). Default 3. */
  classes?: number;
  /** Mask channels. Default 1 (one binary tumour mask). */
  segmentationClasses?: number;
  /** Classification-head options (pooling, dropout). */
  classificationHead?: Omit<ClassificationHeadArgs, 'classes' | 'prefix'>;
  /** Fixed input [height, width], or null to accept any size divisible by the output stride. Default null. */
  inputSize?: [number, number] | null;
  /** Model name. Default `<decoder>__<encoder>`. */
  name?: string;
  /**
   * How weights start. 'reference' (default): as the PyTorch reference starts them (each encoder and
   * decoder declares its `initialization`; smp's `initialize()` where smp runs it). 'layers': the
   * tfjs initialisers the layers were built with (He-uniform kernels, zero biases). Or an explicit
   * {@link ModelInitSpec} per part.
   */
  initialization?: 'reference' | 'layers' | ModelInitSpec;
  /**
   * Seed of the weight initialisation: the same seed gives bit-identical initial weights in any
   * process. Default: unseeded.
   */
  seed?: number;
}

/** Every constructor argument of a {@link MultiTaskModel}, serialisable as JSON. */
export interface MultiTaskModelConfig {
  /** Model name. */
  name: string;
  /** The encoder's registry name and arguments. */
  encoder: EncoderConfig;
  /** The decoder's registry name and arguments. */
  decoder: DecoderConfig;
  /** Input channels. */
  inChannels: number;
  /** Number of image classes. */
  classes: number;
  /** Mask channels. */
  segmentationClasses: number;
  /** Classification-head options. */
  classificationHead: Required<Omit<ClassificationHeadArgs, 'classes' | 'prefix'>>;
  /** Fixed input size or null. */
  inputSize: [number, number] | null;
  /** Stride the input height and width must be divisible by. */
  outputStride: number;
  /** Seed of the weight initialisation, or null (unseeded; also for models saved before seeds were recorded). */
  seed: number | null;
}

/** The two outputs of a forward pass. */
export interface MultiTaskOutput {
  /** Mask logits `[N, H, W, segmentationClasses]` (apply a sigmoid for probabilities). */
  mask: tf.Tensor4D;
  /** Class logits `[N, classes]` (apply a softmax for probabilities). */
  logits: tf.Tensor2D;
}

/** PyTorch state-dict entries that are buffers, not parameters (BatchNorm running statistics). */
const TORCH_BUFFER_NAME = /\.(running_mean|running_var|num_batches_tracked)$/;

/** Parameter counts of a model, split as the reference reports them ({@link MultiTaskModel.countParams}). */
export interface ParameterCounts {
  /**
   * Parameters as PyTorch's `model.parameters()` counts them: every weight, frozen or not, except
   * BatchNorm running statistics (buffers in PyTorch).
   */
  total: number;
  /** The part of `total` that training updates: less than `total` once layers are frozen (`layer.trainable = false`). */
  trainable: number;
  /** Parameters under `encoder.`. */
  encoder: number;
  /** Parameters under `decoder.`. */
  decoder: number;
  /** Parameters under `segmentation_head.`. */
  segmentationHead: number;
  /** Parameters under `classification_head.`. */
  classificationHead: number;
}

const META_KEY = 'busi';

/**
 * One shared encoder, a segmentation decoder and two heads, composed into a single tfjs
 * `LayersModel` with two outputs: mask logits `[N,H,W,1]` and class logits `[N,C]`.
 *
 * @example
 * ```ts
 * import { MultiTaskModel } from '@busi/core';
 * import '@busi/backbones';
 * import '@busi/decoders';
 * const model = new MultiTaskModel({ encoder: 'resnet50', decoder: 'unet', classes: 3 });
 * const { mask, logits } = model.predict(tf.zeros([1, 448, 448, 3]));
 * ```
 */
export class MultiTaskModel {
  /** The underlying tfjs model (outputs: [mask, logits]). */
  readonly model: tfl.LayersModel;
  /** Every constructor argument. */
  readonly config: MultiTaskModelConfig;
  /** The encoder's symbolic features (input first) when the model was built here, not loaded. */
  readonly encoderFeatures: tfl.SymbolicTensor[] | null;
  private modelCard: ModelCard | null = null;

  constructor(args: MultiTaskModelArgs);
  /** @internal wraps an already built or loaded model. */
  constructor(args: MultiTaskModelArgs | { model: tfl.LayersModel; config: MultiTaskModelConfig });
  constructor(args: MultiTaskModelArgs | { model: tfl.LayersModel; config: MultiTaskModelConfig }) {
    if ('model' in args && 'config' in args) {
      this.model = args.model;
      this.config = { ...args.config, seed: args.config.seed ?? null };
      this.encoderFeatures = null;
      return;
    }
    const built = buildMultiTask(args as MultiTaskModelArgs);
    this.model = built.model;
    this.config = built.config;
    this.encoderFeatures = built.features;
  }

  /** A model sharing this one's layers that outputs the encoder features (input first), for inspection and parity checks. */
  featuresModel(): tfl.LayersModel {
    if (!this.encoderFeatures) throw new Error('featuresModel: only available on a model built in this process, not on a loaded one');
    return tfl.model({ inputs: this.model.inputs, outputs: this.encoderFeatures.slice(1) });
  }

  /** Stride the input height and width must be divisible by. */
  get outputStride(): number {
    return this.config.outputStride;
  }

  /**
   * Throws a clear error unless `shape` (NHWC) is an input this model can take.
   * @param what how to name the input in the message.
   */
  validateInput(shape: readonly number[], what = 'input'): void {
    const { inChannels, outputStride, inputSize } = this.config;
    if (shape.length !== 4) {
      throw new Error(`${what}: expected a 4-D NHWC batch [N, H, W, ${inChannels}], got shape [${shape.join(', ')}]`);
    }
    const [, h, w, c] = shape;
    if (c !== inChannels) throw new Error(`${what}: expected ${inChannels} channel(s), got ${c} (shape [${shape.join(', ')}])`);
    if (h % outputStride !== 0 || w % outputStride !== 0) {
      throw new Error(
        `${what}: height and width must be divisible by the output stride ${outputStride}, got ${h}x${w} ` +
          `(nearest valid sizes: ${nearest(h, outputStride)}x${nearest(w, outputStride)})`,
      );
    }
    if (inputSize && (inputSize[0] !== h || inputSize[1] !== w)) {
      throw new Error(`${what}: this model was built for ${inputSize[0]}x${inputSize[1]} inputs, got ${h}x${w}`);
    }
  }

  /** Inference (BatchNorm running statistics, dropout off). */
  predict(x: tf.Tensor4D): MultiTaskOutput {
    this.validateInput(x.shape);
    return this.forward(x, false);
  }

  /**
   * A forward pass in training (`true`: batch statistics, dropout on) or inference mode; for custom
   * loops. `seed` fixes this pass's dropout masks (the trainer passes one per step); without it
   * they are unseeded.
   */
  forward(x: tf.Tensor4D, training: boolean, options: { seed?: number } = {}): MultiTaskOutput {
    if (training && options.seed !== undefined) reseedStochasticLayers(this.model.layers, options.seed);
    const out = this.model.apply(x, { training }) as tf.Tensor[];
    return { mask: out[0] as tf.Tensor4D, logits: out[1] as tf.Tensor2D };
  }

  /** Trainable tfjs variables, in layer order. */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Parameter counts split into encoder, decoder and heads by layer-name prefix. */
  countParams(): ParameterCounts {
    const counts: ParameterCounts = {
      total: 0,
      trainable: 0,
      encoder: 0,
      decoder: 0,
      segmentationHead: 0,
      classificationHead: 0,
    };
    for (const p of this.torchParams()) {
      // Buffers are known by their PyTorch names, not by `trainable`: a frozen layer's weights are
      // still parameters, as PyTorch's `model.parameters()` counts them.
      if (TORCH_BUFFER_NAME.test(p.name)) continue;
      const n = p.variable.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      counts.total += n;
      if (p.variable.trainable) counts.trainable += n;
      const head = p.name.split('.')[0];
      if (head === 'encoder') counts.encoder += n;
      else if (head === 'decoder') counts.decoder += n;
      else if (head === 'segmentation_head') counts.segmentationHead += n;
      else if (head === 'classification_head') counts.classificationHead += n;
    }
    return counts;
  }

  /** Every weight under its PyTorch state-dict name. */
  torchParams(): TorchParam[] {
    const out: TorchParam[] = [];
    for (const layer of this.model.layers) if (isTorchMappable(layer)) out.push(...layer.torchParams());
    return out;
  }

  /** A text summary: configuration, parameter counts and layer count. */
  summary(): string {
    const c = this.countParams();
    const fmt = (n: number) => n.toLocaleString('en-US');
    return [
      `MultiTaskModel ${this.config.name}`,
      `  encoder             ${this.config.encoder.name} (output stride ${this.config.outputStride}): ${fmt(c.encoder)} params`,
      `  decoder             ${this.config.decoder.name}: ${fmt(c.decoder)} params`,
      `  segmentation head   ${this.config.segmentationClasses} mask channel(s): ${fmt(c.segmentationHead)} params`,
      `  classification head ${this.config.classes} classes, ${this.config.classificationHead.pooling} pool, dropout ${this.config.classificationHead.dropout}: ${fmt(c.classificationHead)} params`,
      `  total               ${fmt(c.total)} params in ${this.model.layers.length} layers`,
    ].join('\n');
  }

  /** Every constructor argument (JSON). */
  getConfig(): MultiTaskModelConfig {
    return structuredClone(this.config);
  }

  /**
   * The model card: how to preprocess an input and read the outputs, how the model was trained.
   * Null for a model that was never given one (and for folders saved before model cards).
   */
  get card(): ModelCard | null {
    return this.modelCard ? jsonCopy(this.modelCard) : null;
  }

  /** Attaches a card (saved with the model); throws when it contradicts the architecture. */
  setCard(card: ModelCard | null): void {
    if (card) {
      validateModelCard(card);
      const { channels, size } = card.preprocessing;
      if (channels !== this.config.inChannels) throw new Error(`model card: preprocessing gives ${channels} channel(s), the model takes ${this.config.inChannels}`);
      if (card.classNames.length !== this.config.classes) throw new Error(`model card: ${card.classNames.length} class names for a model with ${this.config.classes} classes`);
      this.validateInput([1, size[0], size[1], channels], 'model card: preprocessing size');
    }
    this.modelCard = card ? jsonCopy(card) : null;
  }

  /** Saves topology, weights, busi configuration and the model card through any tfjs IO handler or URL. */
  async save(handlerOrUrl: tf.io.IOHandler | string): Promise<tf.io.SaveResult> {
    const meta: Record<string, object> = { [META_KEY]: this.config as unknown as object };
    if (this.modelCard) meta[MODEL_CARD_KEY] = this.modelCard as unknown as object;
    this.model.setUserDefinedMetadata(meta);
    return this.model.save(handlerOrUrl);
  }

  /**
   * Loads a model written by {@link MultiTaskModel.save}; every busi layer is registered by
   * `@busi/core`. The artifacts are checked first (see {@link loadLayersModelChecked}): a missing
   * weights manifest, a broken layer graph or weights that do not fit are errors, and a failed load
   * leaves no tensors behind.
   */
  static async load(handlerOrUrl: tf.io.IOHandler | string): Promise<MultiTaskModel> {
    const model = await loadLayersModelChecked(handlerOrUrl);
    const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
    const config = meta?.[META_KEY] as MultiTaskModelConfig | undefined;
    if (!config) {
      model.dispose();
      throw new Error('MultiTaskModel.load: the saved model has no busi metadata (was it saved by MultiTaskModel.save?)');
    }
    const loaded = new MultiTaskModel({ model, config });
    const card = meta?.[MODEL_CARD_KEY] as ModelCard | undefined;
    if (card) {
      try {
        loaded.setCard(card);
      } catch (e) {
        loaded.dispose();
        throw new Error(`MultiTaskModel.load: ${(e as Error).message}`);
      }
    }
    return loaded;
  }

  /** Releases every weight. */
  dispose(): void {
    this.model.dispose();
  }
}

function nearest(n: number, stride: number): number {
  return Math.max(stride, Math.round(n / stride) * stride);
}

function isEncoder(spec: EncoderSpec): spec is Encoder {
  return typeof spec === 'object' && typeof (spec as Encoder).apply === 'function';
}
function isDecoder(spec: DecoderSpec): spec is Decoder {
  return typeof spec === 'object' && typeof (spec as Decoder).apply === 'function';
}

function buildMultiTask(args: MultiTaskModelArgs): {
  model: tfl.LayersModel;
  config: MultiTaskModelConfig;
  features: tfl.SymbolicTensor[];
} {
  if (args.encoder == null) throw new Error('MultiTaskModel: `encoder` is required (e.g. "resnet50")');
  if (args.decoder == null) throw new Error('MultiTaskModel: `decoder` is required (e.g. "unet")');
  const decoderName = typeof args.decoder === 'string' ? args.decoder : args.decoder.name;
  const info = isDecoder(args.decoder) ? {} : decoders.info(decoderName);
  const wantedStride = info.encoderOutputStride;

  let encoder: Encoder;
  if (isEncoder(args.encoder)) encoder = args.encoder;
  else {
    const { name, ...rest } = typeof args.encoder === 'string' ? { name: args.encoder } : args.encoder;
    encoder = createEncoder(name, {
      inChannels: args.inChannels ?? 3,
      ...(wantedStride ? { outputStride: wantedStride } : {}),
      ...(info.encoderDepth ? { depth: info.encoderDepth } : {}),
      ...rest,
    });
  }
  let decoder: Decoder;
  if (isDecoder(args.decoder)) decoder = args.decoder;
  else {
    const { name, ...rest } = typeof args.decoder === 'string' ? { name: args.decoder } : args.decoder;
    decoder = createDecoder(name, { encoderChannels: encoder.outChannels, ...rest });
  }

  const encoderConfig = encoder.getConfig();
  const inChannels = encoderConfig.args.inChannels;
  const inputSize = args.inputSize ?? null;
  const input = tfl.input({ shape: [inputSize?.[0] ?? null, inputSize?.[1] ?? null, inChannels], name: 'image' });
  const features = encoder.apply(input);
  const decoded = decoder.apply(features);
  const segHead = new SegmentationHead({
    classes: args.segmentationClasses ?? 1,
    kernelSize: decoder.headKernelSize,
    upsampling: decoder.outputStride,
  });
  const clsHead = new ClassificationHead({ classes: args.classes ?? 3, ...args.classificationHead });
  const mask = segHead.apply(decoded);
  const logits = clsHead.apply(features[features.length - 1]);
  const name = args.name ?? `${decoder.name}__${encoder.name}`;
  const model = tfl.model({ inputs: input, outputs: [mask, logits], name: sanitize(name) });
  const init = args.initialization ?? 'reference';
  if (init !== 'layers') {
    const spec: ModelInitSpec =
      init === 'reference'
        ? { encoder: encoder.initialization ?? TORCH_DEFAULT_INIT, ...(decoder.initialization ?? SMP_DECODER_AND_HEADS_INIT) }
        : init;
    initializeLikeReference(model, spec, { seed: args.seed });
  } else if (args.seed !== undefined) initializeWeights(model.layers, args.seed);
  const { classes: _c, prefix: _p, ...clsConfig } = clsHead.getConfig();
  const config: MultiTaskModelConfig = {
    name,
    encoder: encoderConfig,
    decoder: decoder.getConfig(),
    inChannels,
    classes: clsHead.classes,
    segmentationClasses: segHead.classes,
    classificationHead: clsConfig,
    inputSize,
    outputStride: encoder.outputStride,
    seed: args.seed ?? null,
  };
  return { model, config, features };
}

// tfjs model names may not contain every character a user might pass.
function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_.\-/]/g, '_');
}

// A JSON round trip, not structuredClone: tfjs accepts only plain objects of its own realm as
// metadata, and structuredClone builds them in the main realm (jest's sandboxes differ).
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
