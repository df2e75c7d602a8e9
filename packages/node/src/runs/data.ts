import * as fs from 'node:fs';
import { BUSI_CLASSES, generateSynthetic, intensitiesToPixels, nounForm, pixelsToIntensities, pluralize, type SyntheticSet } from '@busi/core';
import type { SampleSource } from '@busi/data';
import { BusiDataset } from '@busi/data';
import { readBusiFolder } from '@busi/data';

/** Where a run's images come from. */
export type DataSpec =
  | {
      /** A BUSI folder on disk. */
      kind: 'busi';
      /** The folder holding benign/, malignant/ and normal/. */
      dir: string;
    }
  | {
      /** Generated images with known masks (`generateSynthetic`): no download, for demos and tests. */
      kind: 'synthetic';
      /** Images to generate. */
      count: number;
      /** Seed of the generator: the same seed gives the same images. */
      seed: number;
    };

/** A loaded data source with its sample ids, labels and class names. */
export interface LoadedData {
  /** The samples at the loaded size: images as floats in [0, 1], 0/1 masks, class labels. */
  source: SampleSource;
  /** Sample ids in source order: BUSI file stems ('benign (12)') or 'synthetic-<i>'. */
  ids: string[];
  /** Class label of each sample, an index into `classNames`. */
  labels: number[];
  /** Class names in label order (BUSI's: benign, malignant, normal). */
  classNames: readonly string[];
  /** The BUSI dataset, when the source is a folder (for the duplicate-grouping split). */
  busi: BusiDataset | null;
  /** For pictures: sample `i` as 8-bit pixels in [0, 255] and its 0/1 mask. */
  raw(i: number): Promise<{
    /** Height × width × 3 bytes, row-major, channels last. */
    image: Uint8Array;
    /** Height × width bytes, 0 or 1. */
    mask: Uint8Array;
  }>;
  /** The data in words for logs and reports: the folder (or the synthetic set's size) and the images per class. */
  describe: string;
}

/** Loads the images of `spec` at `size`² (3 channels). `cache` applies to BUSI folders. */
export function loadData(spec: DataSpec, size: number, cache: 'memory' | 'none' | { dir: string } = 'memory'): LoadedData {
  if (spec.kind === 'synthetic') return syntheticData(generateSynthetic({ size, count: spec.count, seed: spec.seed, channels: 3 }));
  if (!fs.existsSync(spec.dir)) throw new Error(`--data: folder '${spec.dir}' not found (expected the BUSI folder holding benign/, malignant/, normal/)`);
  const index = readBusiFolder(spec.dir);
  const busi = new BusiDataset(index.entries, index.classNames, { size, channels: 3, cache });
  const source: SampleSource = {
    size: busi.size,
    height: size,
    width: size,
    channels: 3,
    async get(i) {
      const r = await busi.raw(i);
      return { image: pixelsToIntensities(r.image), mask: Float32Array.from(r.mask), label: r.label };
    },
  };
  return {
    source,
    ids: busi.ids,
    labels: busi.labels,
    classNames: index.classNames,
    busi,
    raw: async (i) => {
      const r = await busi.raw(i);
      return { image: r.image, mask: r.mask };
    },
    describe: `BUSI folder ${index.root}: ${pluralize(busi.size, 'image')} (${index.classNames.map((c, k) => `${busi.labels.filter((l) => l === k).length} ${c}`).join(', ')})`,
  };
}

function syntheticData(set: SyntheticSet): LoadedData {
  const { height: h, width: w, channels: c } = set;
  const labels = Array.from(set.labels);
  return {
    source: {
      size: set.count,
      height: h,
      width: w,
      channels: c,
      async get(i) {
        return {
          image: set.images.slice(i * h * w * c, (i + 1) * h * w * c),
          mask: set.masks.slice(i * h * w, (i + 1) * h * w),
          label: set.labels[i],
        };
      },
    },
    ids: labels.map((_, i) => `synthetic-${i}`),
    labels,
    classNames: BUSI_CLASSES,
    busi: null,
    raw: async (i) => {
      const img = set.images.subarray(i * h * w * c, (i + 1) * h * w * c);
      return { image: intensitiesToPixels(img), mask: Uint8Array.from(set.masks.subarray(i * h * w, (i + 1) * h * w)) };
    },
    describe: `${set.count} synthetic ${h}x${w} ${nounForm(set.count, 'image')} (${BUSI_CLASSES.map((n, k) => `${labels.filter((l) => l === k).length} ${n}`).join(', ')})`,
  };
}
