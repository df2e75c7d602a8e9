/**
 * The building blocks every decoder is made of (smp's `base/modules.py` and the blocks smp's
 * decoders share): conv-BN-ReLU, separable convs, squeeze-excitation and scSE attention, the Unet
 * decoder block, the ASPP module and dropout. Each names its layers by PyTorch module path.
 * @module
 */
export * from './channels';
export * from './conv';
export * from './attention';
export * from './unet-block';
export * from './dropout';
export * from './aspp';
