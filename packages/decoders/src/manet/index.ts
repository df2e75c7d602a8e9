export * from './manet';
export * from './position-attention';
