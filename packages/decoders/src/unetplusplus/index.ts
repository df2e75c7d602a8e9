export * from './blocks';
export * from './unetplusplus';
