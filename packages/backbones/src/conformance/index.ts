export * from './encoder-conformance';
