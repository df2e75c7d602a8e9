export * from './classification';
export * from './segmentation';
export * from './validation';
