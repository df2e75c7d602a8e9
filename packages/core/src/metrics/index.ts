export * from './classification';
export * from './segmentation';
