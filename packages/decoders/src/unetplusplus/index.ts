export * from './unetplusplus';
