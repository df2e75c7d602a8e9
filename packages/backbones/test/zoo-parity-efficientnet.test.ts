/** Unet × EfficientNet-B0 … B7 (B4 is in the paper's fixtures) against smp v0.3.3. */
import '@busi/decoders';
import '../src';
import { describeZooParity } from './helpers/zoo-parity';

describeZooParity('efficientnet');
