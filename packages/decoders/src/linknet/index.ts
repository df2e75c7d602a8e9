export * from './linknet';
