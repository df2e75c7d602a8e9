export * from './deeplabv3';
