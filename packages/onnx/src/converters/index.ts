// The built-in converters register themselves on import, one module per layer family.
import './activations';
import './attention';
import './conv';
import './identity';
import './merge';
import './normalization';
import './pooling';
import './resize';
import './shape';

export * from './registry';
