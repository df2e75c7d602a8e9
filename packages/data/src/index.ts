export * from './io/file-system';
export * from './io/png';
export * from './io/overlay';
export * from './busi';
export * from './dataset';
export * from './split';
export * from './three-way';
export * from './busi-split';
export * from './fingerprint';
export * from './near-duplicates';
export * from './busi-duplicates';
export * from './augment';

import { registerFileSystemRouter } from './io/file-system';

// tfjs's file:// URLs (save and load) work as soon as busi's data package is loaded.
registerFileSystemRouter();
export * from './grouped-split';
