import type { AugmentOptions, Normalization } from '@busi/data';
import type { DataSpec } from './data';

/** Everything that defines a training run; `config.json` of a run folder. */
export interface RunConfig {
  format: 'busi-run';
  version: 1;
  data: DataSpec;
  /** Encoder and decoder registry names; decoder channels (null: the decoder's default). */
  encoder: string;
  decoder: string;
  decoderChannels: number[] | null;
  /** Pretrained encoder weights (safetensors) loaded before the first epoch, or null (random initialisation). */
  encoderWeights?: string | null;
  /** Dropout of the classification head. */
  dropout: number;
  /** Square input size. */
  size: number;
  /** Segmentation weight of L = λ·Dice + (1-λ)·Focal. */
  lambda: number;
  optimizer: 'adam' | 'adamw';
  lr: number;
  /** L2 (adam, as torch.optim.Adam) or decoupled (adamw) weight decay. */
  weightDecay: number;
  batchSize: number;
  /** Samples per forward/backward pass (gradient accumulation below batchSize). */
  microBatch: number;
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
  cache: 'memory' | 'disk' | 'none';
  /** Applied to [0, 1] intensities. */
  normalization: Normalization;
  classNames: string[];
  /** Backend of the first session, versions, start time. */
  backend: string;
  versions: Record<string, string>;
  created: string;
}
