import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainingBatch, TrainingDataset } from '@busi/core';
import {
  decodeBusiEntry,
  normalizePixels,
  readBusiFolder,
  resolveNormalization,
  type BusiEntry,
  type BusiIndex,
  type Normalization,
  type NormalizationSpec,
  type ReadBusiOptions,
} from './busi';

/** Options of {@link BusiDataset}. */
export interface BusiDatasetOptions {
  /** Model input size (number: square). Images are resized bilinearly, masks by nearest neighbour. Default 448. */
  size?: number | [number, number];
  /** Image channels: 3 or 1. Default 3. */
  channels?: 1 | 3;
  /** Pixel normalisation. Default 'imagenet'. */
  normalization?: NormalizationSpec;
  /**
   * Where resized 8-bit samples are kept after their first decode: 'none' (decode every time),
   * 'memory' (a map in this process; 448x448 RGB is ~0.8 MB per image), or a folder for an on-disk
   * cache shared across runs (keyed by file paths, sizes, times and the resize options; not also held in memory).
   * Default 'memory'.
   */
  cache?:
    | 'none'
    | 'memory'
    | {
        /** Folder of the on-disk cache (created if missing); one file per resized sample. */
        dir: string;
      };
}

/** One sample after decoding and resizing, as the cache holds it (8-bit). */
export interface Resized {
  /** Pixels `H·W·C`, row-major HWC, 0–255, resized bilinearly to the dataset size. */
  image: Uint8Array;
  /** Mask `H·W`: 1 on the lesion, 0 elsewhere (resized by nearest neighbour, the union of a sample's masks). */
  mask: Uint8Array;
}

/**
 * A lazy BUSI dataset: nothing is decoded until a sample is asked for, and only resized samples
 * are cached, never full-size images. Implements the trainer's `TrainingDataset` (`size`,
 * `getBatch`), returning normalised images `[N,H,W,C]`, masks `[N,H,W,1]` and labels `[N]`.
 *
 * @example
 * ```ts
 * const data = BusiDataset.fromFolder('/data/Dataset_BUSI_with_GT', { size: 256 });
 * const { train, test } = stratifiedSplit(data.labels, { seed: 1 });
 * const batch = await data.subset(train).getBatch([0, 1, 2, 3]);
 * ```
 */
export class BusiDataset implements TrainingDataset {
  /** The samples of this view, in order: sample i is `entries[i]` (image and mask files, label, id). */
  readonly entries: readonly BusiEntry[];
  /** Class names indexed by label, e.g. ['benign', 'malignant', 'normal']. */
  readonly classNames: readonly string[];
  /** Height in pixels every sample is resized to. */
  readonly height: number;
  /** Width in pixels every sample is resized to. */
  readonly width: number;
  /** Image channels: 3 (RGB, gray images replicated) or 1 (luma). */
  readonly channels: 1 | 3;
  /** Per-channel mean and std applied by `sample` and `getBatch` (ImageNet's unless given). */
  readonly normalization: Normalization;
  private readonly cacheMode: 'none' | 'memory' | 'disk';
  private readonly cacheDir: string | null;
  // Shared with subsets, so a sample decoded through one view is cached for all.
  private readonly memory: Map<string, Resized>;

  constructor(entries: readonly BusiEntry[], classNames: readonly string[], options: BusiDatasetOptions = {}, shared?: Map<string, Resized>) {
    const size = options.size ?? 448;
    [this.height, this.width] = typeof size === 'number' ? [size, size] : size;
    if (!(Number.isInteger(this.height) && Number.isInteger(this.width) && this.height > 0 && this.width > 0)) {
      throw new Error(`BusiDataset: size must be positive integers, got ${JSON.stringify(size)}`);
    }
    this.entries = entries;
    this.classNames = classNames;
    this.channels = options.channels ?? 3;
    this.normalization = resolveNormalization(options.normalization ?? 'imagenet', this.channels);
    const cache = options.cache ?? 'memory';
    this.cacheMode = cache === 'none' || cache === 'memory' ? cache : 'disk';
    this.cacheDir = typeof cache === 'object' ? path.resolve(cache.dir) : null;
    this.memory = shared ?? new Map();
    this.options = { ...options, size: [this.height, this.width], channels: this.channels };
  }

  private readonly options: BusiDatasetOptions;
  /** Counters for this view: files decoded, and samples served from a cache. */
  readonly stats = {
    /** Samples decoded from their files (cache misses). */
    decoded: 0,
    /** Samples served from the memory or disk cache. */
    cacheHits: 0,
  };

  /** Lists a BUSI folder (see `readBusiFolder`) and wraps it. */
  static fromFolder(dir: string, options: BusiDatasetOptions & ReadBusiOptions = {}): BusiDataset {
    const index: BusiIndex = readBusiFolder(dir, options);
    return new BusiDataset(index.entries, index.classNames, options);
  }

  /** Number of samples. */
  get size(): number {
    return this.entries.length;
  }

  /** Class index of every sample. */
  get labels(): number[] {
    return this.entries.map((e) => e.label);
  }

  /** Sample ids (file stems). */
  get ids(): string[] {
    return this.entries.map((e) => e.id);
  }

  /** A view on some samples (e.g. a split part) sharing this dataset's cache. */
  subset(indices: readonly number[]): BusiDataset {
    const picked = indices.map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.entries.length) throw new Error(`BusiDataset.subset: index ${i} out of range [0, ${this.entries.length})`);
      return this.entries[i];
    });
    return new BusiDataset(picked, this.classNames, this.options, this.memory);
  }

  /** The resized 8-bit image (HWC) and 0/1 mask of sample `i`. */
  async raw(i: number): Promise<
    Resized & {
      /** Class index into `classNames`. */
      label: number;
      /** The sample's files and id. */
      entry: BusiEntry;
    }
  > {
    const entry = this.entries[i];
    if (!entry) throw new Error(`BusiDataset: index ${i} out of range [0, ${this.entries.length})`);
    const key = this.cacheKey(entry);
    // The disk cache is for sets too big for memory, so its hits are not also kept in memory.
    let r = this.cacheMode === 'memory' ? this.memory.get(key) : this.cacheMode === 'disk' ? this.readDisk(key) : undefined;
    if (r) this.stats.cacheHits++;
    else {
      this.stats.decoded++;
      const d = await decodeBusiEntry(entry, { size: [this.height, this.width], channels: this.channels });
      r = { image: d.image.data, mask: d.mask };
      if (this.cacheMode === 'memory') this.memory.set(key, r);
      if (this.cacheMode === 'disk') this.writeDisk(key, r);
    }
    return { ...r, label: entry.label, entry };
  }

  /** Sample `i` normalised: image `H*W*C` floats, mask `H*W` 0/1 floats, label. */
  async sample(i: number): Promise<{
    /** `H·W·C` floats, HWC, normalised with `normalization`. */
    image: Float32Array;
    /** `H·W` floats, 1 on the lesion, 0 elsewhere. */
    mask: Float32Array;
    /** Class index into `classNames`. */
    label: number;
  }> {
    const r = await this.raw(i);
    return { image: normalizePixels(r.image, this.normalization), mask: Float32Array.from(r.mask), label: r.label };
  }

  /** The samples at `indices` as fresh tensors (the caller disposes them). */
  async getBatch(indices: number[]): Promise<TrainingBatch> {
    const plane = this.height * this.width;
    const c = this.channels;
    const images = new Float32Array(indices.length * plane * c);
    const masks = new Float32Array(indices.length * plane);
    const labels = new Int32Array(indices.length);
    for (const [j, i] of indices.entries()) {
      const r = await this.raw(i);
      normalizePixels(r.image, this.normalization, images, j * plane * c);
      for (let p = 0; p < plane; p++) masks[j * plane + p] = r.mask[p];
      labels[j] = r.label;
    }
    return {
      images: tf.tensor4d(images, [indices.length, this.height, this.width, c]),
      masks: tf.tensor4d(masks, [indices.length, this.height, this.width, 1]),
      labels: tf.tensor1d(labels, 'int32'),
    };
  }

  /** Drops the in-memory cache (the on-disk cache stays). */
  clearMemoryCache(): void {
    this.memory.clear();
  }

  private cacheKey(e: BusiEntry): string {
    const files = [e.imagePath, ...e.maskPaths];
    const stamp = files.map((f) => {
      if (this.cacheMode !== 'disk') return f;
      const s = fs.statSync(f);
      return `${f}:${s.size}:${s.mtimeMs}`;
    });
    return createHash('sha1')
      .update(`${stamp.join('|')}|${this.height}x${this.width}x${this.channels}`)
      .digest('hex');
  }

  private readDisk(key: string): Resized | undefined {
    const file = path.join(this.cacheDir!, `${key}.bin`);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const n = this.height * this.width;
    // A cache file of the wrong length (interrupted write, other options) is ignored and rewritten.
    if (buf.length !== n * this.channels + n) return undefined;
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    return { image: bytes.slice(0, n * this.channels), mask: bytes.slice(n * this.channels) };
  }

  private writeDisk(key: string, r: Resized): void {
    fs.mkdirSync(this.cacheDir!, { recursive: true });
    const file = path.join(this.cacheDir!, `${key}.bin`);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, Buffer.concat([r.image, r.mask]));
    fs.renameSync(tmp, file);
  }
}
