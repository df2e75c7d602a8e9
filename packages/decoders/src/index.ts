export {};
export * from './unet';
