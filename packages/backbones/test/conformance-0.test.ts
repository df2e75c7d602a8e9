import { listEncoders } from '@busi/core';
import '@busi/node';
import '../src';
import { describeEncoderConformance } from './conformance-suite';

test('the registry lists the encoders of this package', () => {
  expect(listEncoders()).toEqual(expect.arrayContaining(['resnet18', 'resnet50', 'resnext50_32x4d', 'tu-wide_resnet50_2', 'efficientnet-b4']));
});

describeEncoderConformance(0, 2);
