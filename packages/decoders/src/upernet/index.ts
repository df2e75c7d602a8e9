export * from './upernet';
