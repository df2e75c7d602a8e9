export * from './export';
export * from './graph';
export * from './metadata';
export * from './layout';
export * from './weights';
export * from './float16';
export * from './converters/index';
