export * from './pixels';
export * from './normalization';
export * from './spec';
