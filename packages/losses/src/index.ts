/**
 * @busi/losses: the paper's training losses (focal, Dice, their λ-weighted sum) and
 * segmentation_models.pytorch 0.3.3's variants, on @tensorflow/tfjs-core alone.
 *
 * tfjs-core's Node build does not register gradient functions; they come with
 * `@tensorflow/tfjs-layers` (which every busi model imports) or `@tensorflow/tfjs`. Code that
 * differentiates these losses without either must import one of them first.
 *
 * @packageDocumentation
 */
export * from './loss';
export * from './focal';
export * from './dice';
export * from './multi-task';
