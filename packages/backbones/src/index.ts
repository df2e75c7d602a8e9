export {};
export * from './efficientnet';
