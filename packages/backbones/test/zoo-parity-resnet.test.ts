/** Unet × the ResNet family's other encoders (resnet18 … resnet152, ResNeXt-101, the timm-style ResNets) against smp v0.3.3. */
import '@busi/decoders';
import '../src';
import { describeZooParity } from './helpers/zoo-parity';

describeZooParity('resnet');
