export {};
export * from './efficientnet';
export * from './resnet';
export * from './conformance';
