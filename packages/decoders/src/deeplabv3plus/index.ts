export * from './deeplabv3plus';
