export * from './pspnet';
