export * from './decoder-conformance';
