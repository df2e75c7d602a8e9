export {};
export * from './io/file-system';
export * from './io/png';
export * from './io/overlay';
export * from './backends';
