// @busi/data: files, images and datasets in Node. Modules whose every export is public are
// re-exported whole; from the others only the public names (helpers such as contour and
// naturalCompare stay internal, as does split-units).
export * from './io/file-system';
export * from './io/png';
export { renderOverlay, writeOverlayPng, hstack, type Rgb, type OverlayOptions } from './io/overlay';
export {
  readBusiFolder,
  decodeBusiEntry,
  IMAGENET_NORMALIZATION,
  resolveNormalization,
  normalizePixels,
  hashImage,
  findDuplicates,
  formatDuplicateReport,
  type BusiEntry,
  type BusiIndex,
  type ReadBusiOptions,
  type DecodedSample,
  type DecodeOptions,
  type Normalization,
  type NormalizationSpec,
  type DuplicateGroup,
  type DuplicateReport,
} from './busi';
export * from './dataset';
export * from './split';
export * from './folds';
export * from './three-way';
export * from './busi-split';
export * from './grouped-split';
export * from './fingerprint';
export * from './near-duplicates';
export * from './busi-duplicates';
export * from './augment';

import { registerFileSystemRouter } from './io/file-system';

// tfjs's file:// URLs (save and load) work as soon as busi's data package is loaded.
registerFileSystemRouter();
export * from './grouped-split';
