import { layers, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { Dropout } from '../layers/dropout';
import { Linear } from '../layers/linear';

/** Constructor arguments of {@link ClassificationHead}. */
export interface ClassificationHeadArgs {
  /** Number of classes (benign / malignant / normal). Default 3. */
  classes?: number;
  /** Global pooling of the deepest encoder feature. Default 'avg'. */
  pooling?: 'avg' | 'max';
  /** Dropout rate before the dense layer (0 for none). Default 0.5, as the paper's `aux_params`. */
  dropout?: number;
  /** Layer-name prefix (PyTorch module path). Default 'classification_head'. */
  prefix?: string;
}

/** global avg/max pool → dropout → dense with bias → class logits (no activation), smp's `aux_params` head. */
export class ClassificationHead {
  /** Number of classes: the width of the logits. */
  readonly classes: number;
  /** Global pooling of the deepest encoder feature, 'avg' or 'max'. */
  readonly pooling: 'avg' | 'max';
  /** Dropout rate before the dense layer; 0: no dropout layer. */
  readonly dropout: number;
  /** Layer-name prefix; the layers are `<prefix>.0` (pool), `.2` (dropout), `.3` (dense), smp's `nn.Sequential` indices. */
  readonly prefix: string;

  constructor(args: ClassificationHeadArgs = {}) {
    this.classes = args.classes ?? 3;
    this.pooling = args.pooling ?? 'avg';
    this.dropout = args.dropout ?? 0.5;
    this.prefix = args.prefix ?? 'classification_head';
    if (this.pooling !== 'avg' && this.pooling !== 'max') {
      throw new Error(`ClassificationHead: pooling must be 'avg' or 'max', got '${String(this.pooling)}'`);
    }
    if (!(this.dropout >= 0 && this.dropout < 1)) {
      throw new Error(`ClassificationHead: dropout must be in [0, 1), got ${this.dropout}`);
    }
  }

  /** Builds the head on the deepest encoder feature (NHWC) and returns `[batch, classes]` logits. Each call creates fresh layers. */
  apply(deepest: SymbolicTensor): SymbolicTensor {
    const pool =
      this.pooling === 'avg'
        ? layers.globalAveragePooling2d({ name: `${this.prefix}.0` })
        : layers.globalMaxPooling2d({ name: `${this.prefix}.0` });
    let y = pool.apply(deepest) as SymbolicTensor;
    if (this.dropout > 0) y = new Dropout({ rate: this.dropout, name: `${this.prefix}.2` }).apply(y) as SymbolicTensor;
    return new Linear({ name: `${this.prefix}.3`, units: this.classes }).apply(y) as SymbolicTensor;
  }

  /** Every constructor argument, defaults filled in, so `new ClassificationHead(head.getConfig())` rebuilds it. */
  getConfig(): Required<ClassificationHeadArgs> {
    return { classes: this.classes, pooling: this.pooling, dropout: this.dropout, prefix: this.prefix };
  }
}
