import { DropConnect, Dropout, UnusedWeights } from '@busi/core';
import { registerOnnxConverter } from './registry';

// Identities at inference: dropout and stochastic depth act only in training; UnusedWeights only
// holds checkpoint weights that the forward pass never reads.
for (const className of [Dropout.className, 'Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', DropConnect.className, UnusedWeights.className]) {
  registerOnnxConverter(className, ({ inputs }) => [inputs[0].name]);
}
