export {};
export * from './io/file-system';
export * from './io/png';
export * from './io/overlay';
export * from './backends';
export * from './data/busi';
export * from './data/dataset';
export * from './data/split';
