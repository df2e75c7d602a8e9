export {};
export * from './efficientnet';
export * from './resnet';
