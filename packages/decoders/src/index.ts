export {};
export * from './blocks';
export * from './unet';
export * from './unetplusplus';
export * from './fpn';
export * from './deeplabv3plus';
export * from './conformance';
