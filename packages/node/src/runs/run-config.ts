import type { AugmentOptions, Normalization } from '@busi/data';
import type { DataSpec } from './data';
import type { DecoderChannels } from './decoder-channels';

/** Everything that defines a training run; `config.json` of a run folder. */
export interface RunConfig {
  /** Marks the file as a busi run's config. */
  format: 'busi-run';
  /** Version of the file's layout (1 so far). */
  version: 1;
  /** Where the images come from. */
  data: DataSpec;
  /** Encoder registry name, e.g. 'resnet50'. */
  encoder: string;
  /** Decoder registry name, e.g. 'unet'. */
  decoder: string;
  /** The decoder's `decoderChannels`, shaped as its registry default (a list per block, or one width); null: the default. */
  decoderChannels: DecoderChannels | null;
  /** Pretrained encoder weights (safetensors) loaded before the first epoch, or null (random initialisation). */
  encoderWeights?: string | null;
  /** Dropout of the classification head. */
  dropout: number;
  /** Square input size. */
  size: number;
  /** Segmentation weight of L = λ·Dice + (1-λ)·Focal. */
  lambda: number;
  /** Optimizer, with PyTorch semantics. */
  optimizer: 'adam' | 'adamw';
  /** Learning rate, constant over the run. */
  lr: number;
  /** L2 (adam, as torch.optim.Adam) or decoupled (adamw) weight decay. */
  weightDecay: number;
  /** Images per optimizer step. */
  batchSize: number;
  /** Samples per forward/backward pass (gradient accumulation below batchSize). */
  microBatch: number;
  /** Epochs of the whole run; a resumed run trains on up to this count. */
  epochs: number;
  /** Validation share of a generated split (model selection). */
  valFraction: number;
  /** Test share of a generated split (scored only at the end); 0 or absent (older runs): a two-way split. */
  testFraction?: number;
  /** Keep duplicate BUSI images in one part of a generated split. */
  groupDuplicates: boolean;
  /** Which duplicates are grouped: 'near' (default) or 'exact' (identical pixels). */
  duplicates?: 'near' | 'exact';
  /** Leave out the images of cross-class duplicate groups. */
  excludeCrossClass?: boolean;
  /** The split file the run was started with, or null (generated). */
  splitFile: string | null;
  /** Fold of a k-fold split file to train on (0-based). */
  fold?: number;
  /** Seed of the split, initialisation, shuffling, augmentation and dropout. */
  seed: number;
  /** Early-stopping patience in epochs; 0 for none. */
  patience: number;
  /** Quantity that picks the best model and drives early stopping. */
  monitor: string;
  /** Training augmentation, or null. */
  augment: Required<AugmentOptions> | null;
  /** Where resized BUSI images are kept between epochs: in memory, in `<out>/../.busi-cache`, or nowhere (decoded each time). */
  cache: 'memory' | 'disk' | 'none';
  /** Applied to [0, 1] intensities. */
  normalization: Normalization;
  /** Class names in label order. */
  classNames: string[];
  /** Backend of the first session ('wasm', 'cpu', ...). */
  backend: string;
  /** busi, tfjs and node versions of the first session, by name. */
  versions: Record<string, string>;
  /** When the run was started, as an ISO 8601 time. */
  created: string;
}
