import { describeEncoderConformance } from './conformance-suite';

describeEncoderConformance(1, 2);
