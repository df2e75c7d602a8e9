import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUSI_CLASSES, pluralize, resizePixels } from '@busi/core';
import { convertChannels, decodeImage, type RawImage } from './io/png';

/** One BUSI image with its mask files. */
export interface BusiEntry {
  /** File stem, unique across the dataset: 'benign (12)'. */
  id: string;
  /** Class folder name. */
  className: string;
  /** Index of the class in the index's `classNames`. */
  label: number;
  /** Absolute path of the image. */
  imagePath: string;
  /** Absolute paths of its masks (`_mask.png`, `_mask_1.png`, ...), merged by logical OR. */
  maskPaths: string[];
}

/** The files of a BUSI-layout folder. */
export interface BusiIndex {
  /** The folder holding the class folders. */
  root: string;
  /** Class names in label order. */
  classNames: readonly string[];
  /** Every image, by class then by number. */
  entries: BusiEntry[];
}

/** Options of {@link readBusiFolder}. */
export interface ReadBusiOptions {
  /** Class folder names in label order. Default ['benign', 'malignant', 'normal']. */
  classes?: readonly string[];
}

const NAME = /^(.+?)(_mask(?:_(\d+))?)?\.png$/i;

/**
 * Lists a BUSI-layout folder: `<class>/<class> (N).png` with masks `<class> (N)_mask.png`,
 * `_mask_1.png`, ... . `dir` may be the folder holding the class folders or its parent holding
 * `Dataset_BUSI_with_GT/`. Nothing is decoded here. Throws, naming the file, on a missing class
 * folder, an image without a mask, a mask without an image, or an empty class folder.
 * @example
 * ```ts
 * import { readBusiFolder, BusiDataset } from '@busi/node';
 * const index = readBusiFolder('/data/Dataset_BUSI_with_GT');
 * const data = new BusiDataset(index.entries, index.classNames, { size: 448 });
 * ```
 */
export function readBusiFolder(dir: string, options: ReadBusiOptions = {}): BusiIndex {
  const classes = options.classes ?? BUSI_CLASSES;
  let root = path.resolve(dir);
  if (!fs.existsSync(root)) throw new Error(`readBusiFolder: folder not found: '${root}'`);
  if (!fs.statSync(root).isDirectory()) throw new Error(`readBusiFolder: '${root}' is not a folder`);
  const hasClasses = (d: string) => classes.some((c) => fs.existsSync(path.join(d, c)));
  if (!hasClasses(root) && hasClasses(path.join(root, 'Dataset_BUSI_with_GT'))) root = path.join(root, 'Dataset_BUSI_with_GT');
  const entries: BusiEntry[] = [];
  classes.forEach((className, label) => {
    const folder = path.join(root, className);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
      throw new Error(
        `readBusiFolder: wrong layout: no '${className}/' folder in '${root}' (expected ${classes.map((c) => `${c}/`).join(', ')} ` +
          `holding '<class> (N).png' images and '<class> (N)_mask.png' masks)`,
      );
    }
    const images = new Map<string, string>();
    const masks = new Map<string, { file: string; order: number }[]>();
    for (const name of fs.readdirSync(folder)) {
      const m = NAME.exec(name);
      if (!m) continue; // stray files (.DS_Store, thumbnails) are not part of the dataset
      const [, stem, maskPart, maskNo] = m;
      const file = path.join(folder, name);
      if (maskPart) {
        const list = masks.get(stem) ?? [];
        list.push({ file, order: maskNo ? Number(maskNo) : 0 });
        masks.set(stem, list);
      } else images.set(stem, file);
    }
    if (images.size === 0) throw new Error(`readBusiFolder: wrong layout: no '<name>.png' images in '${folder}'`);
    for (const [stem, list] of masks) {
      if (!images.has(stem)) throw new Error(`readBusiFolder: mask without an image: '${list[0].file}' (no '${stem}.png')`);
    }
    const stems = [...images.keys()].sort(naturalCompare);
    for (const stem of stems) {
      const list = masks.get(stem);
      const imagePath = images.get(stem)!;
      if (!list) throw new Error(`readBusiFolder: missing mask for '${imagePath}' (expected '${stem}_mask.png')`);
      list.sort((a, b) => a.order - b.order);
      entries.push({ id: stem, className, label, imagePath, maskPaths: list.map((l) => l.file) });
    }
  });
  const seen = new Map<string, string>();
  for (const e of entries) {
    const prev = seen.get(e.id);
    if (prev) throw new Error(`readBusiFolder: image name '${e.id}' appears twice: '${prev}' and '${e.imagePath}'`);
    seen.set(e.id, e.imagePath);
  }
  return { root, classNames: [...classes], entries };
}

/** A decoded BUSI sample: 8-bit image and a 0/1 mask of the same size. */
export interface DecodedSample {
  /** The decoded (and resized, if asked) image, 8-bit HWC with its size and channel count. */
  image: RawImage;
  /** `height * width` values, 1 = lesion. */
  mask: Uint8Array;
  /** Class index into the index's `classNames`. */
  label: number;
}

/** Options of {@link decodeBusiEntry}. */
export interface DecodeOptions {
  /** Resize to this size (number: square) — images bilinear, masks nearest; null keeps the file's size. Default null. */
  size?: number | [number, number] | null;
  /** Image channels: 3 (RGB, gray files replicated) or 1 (gray). Default 3. */
  channels?: 1 | 3;
}

/**
 * Decodes one entry: the image, and its masks merged by logical OR (a pixel is lesion when any
 * colour channel of any mask is above 127; alpha is ignored). Throws, naming the file, when a mask's
 * size differs from the image's or a file is corrupt or truncated.
 */
export async function decodeBusiEntry(entry: BusiEntry, options: DecodeOptions = {}): Promise<DecodedSample> {
  const channels = options.channels ?? 3;
  const raw = await decodeImage(entry.imagePath);
  const { height, width } = raw;
  const mask = new Uint8Array(height * width);
  for (const file of entry.maskPaths) {
    const m = await decodeImage(file);
    if (m.height !== height || m.width !== width) {
      throw new Error(`mask size ${m.width}x${m.height} of '${file}' differs from its image's ${width}x${height} ('${entry.imagePath}')`);
    }
    const colour = m.channels === 2 || m.channels === 4 ? m.channels - 1 : m.channels;
    for (let i = 0; i < height * width; i++) {
      if (mask[i]) continue;
      for (let k = 0; k < colour; k++) {
        if (m.data[i * m.channels + k] > 127) {
          mask[i] = 1;
          break;
        }
      }
    }
  }
  let image = convertChannels(raw, channels);
  let outMask: Uint8Array = mask;
  const size = options.size == null ? null : typeof options.size === 'number' ? ([options.size, options.size] as [number, number]) : options.size;
  if (size) {
    image = resizePixels(image, size, 'bilinear');
    const m = resizePixels({ data: mask, height, width, channels: 1 }, size, 'nearest');
    outMask = m.data;
  }
  return { image, mask: outMask, label: entry.label };
}

// The normalisation lives in @busi/core's preprocessing module (shared with the browser); re-exported here for old imports.
export { IMAGENET_NORMALIZATION, normalizePixels, resolveNormalization, type Normalization, type NormalizationSpec } from '@busi/core';

/** SHA-1 of an image's decoded RGB pixels and size: equal for pixel-identical images whatever their file encoding. */
export async function hashImage(file: string): Promise<string> {
  const img = convertChannels(await decodeImage(file), 3);
  return createHash('sha1').update(`${img.width}x${img.height}:`).update(img.data).digest('hex');
}

/** A set of pixel-identical images. */
export interface DuplicateGroup {
  /** Hex SHA-1 of the decoded RGB pixels and their size, shared by the copies. */
  hash: string;
  /** Entry ids, in index order. */
  ids: string[];
  /** Their classes (one per id). */
  classes: string[];
  /** Whether the copies carry different class labels (a labelling fault). */
  crossClass: boolean;
}

/** What {@link findDuplicates} found. */
export interface DuplicateReport {
  /** The image hash of every entry, parallel to the index's entries (usable as split groups). */
  hashes: string[];
  /** Groups of two or more identical images. */
  groups: DuplicateGroup[];
  /** Images that are a copy of an earlier one. */
  redundantImages: number;
}

/**
 * Finds pixel-identical images (after decoding to RGB, so a grayscale and an RGB encoding of the same
 * picture match). Decodes every image once; `onProgress(done, total)` reports progress.
 */
export async function findDuplicates(index: BusiIndex, onProgress?: (done: number, total: number) => void): Promise<DuplicateReport> {
  const hashes: string[] = [];
  for (const [i, e] of index.entries.entries()) {
    hashes.push(await hashImage(e.imagePath));
    onProgress?.(i + 1, index.entries.length);
  }
  const byHash = new Map<string, number[]>();
  hashes.forEach((h, i) => byHash.set(h, [...(byHash.get(h) ?? []), i]));
  const groups: DuplicateGroup[] = [];
  for (const [hash, idx] of byHash) {
    if (idx.length < 2) continue;
    const classes = idx.map((i) => index.entries[i].className);
    groups.push({ hash, ids: idx.map((i) => index.entries[i].id), classes, crossClass: new Set(classes).size > 1 });
  }
  return { hashes, groups, redundantImages: groups.reduce((n, g) => n + g.ids.length - 1, 0) };
}

/** A human-readable duplicate report. */
export function formatDuplicateReport(report: DuplicateReport): string {
  const lines = [
    `${pluralize(report.hashes.length, 'image')}, ${pluralize(report.groups.length, 'group')} of identical images, ${pluralize(report.redundantImages, 'redundant copy', 'redundant copies')}`,
  ];
  const cross = report.groups.filter((g) => g.crossClass);
  if (cross.length) lines.push(`${pluralize(cross.length, 'group')} with conflicting labels:`);
  for (const g of [...cross, ...report.groups.filter((g) => !g.crossClass)]) {
    lines.push(`  ${g.crossClass ? '!' : ' '} ${g.ids.join(', ')}`);
  }
  return lines.join('\n');
}

/** Orders 'benign (2)' before 'benign (10)'. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
