import * as fs from 'node:fs';
import { loadStateDict, loadStateDictSafetensors, type MultiTaskModel, pluralize } from '@busi/core';

/** What {@link loadEncoderWeights} loaded. */
export interface EncoderWeightsResult {
  /** Weights written. */
  loaded: number;
  /** Prefix put before the file's names ('' when they already carry `encoder.`). */
  prefix: string;
}

// ImageNet classifiers that smp drops from its encoders (torchvision/timm 'fc', efficientnet-pytorch '_fc').
const CLASSIFIERS = ['fc.', '_fc.', 'classifier.'];

/**
 * Loads pretrained encoder weights (e.g. ImageNet, written from torchvision/timm/efficientnet-pytorch
 * as safetensors; see docs/pytorch-weights.md) into `model`'s encoder. Names may be bare
 * (`conv1.weight`), timm-style under `encoder.model.`, or already `encoder.`-prefixed (a whole smp
 * state dict, whose decoder and heads are then loaded too). Throws, naming the file, unless every
 * encoder weight is found with the right shape.
 */
export function loadEncoderWeights(model: MultiTaskModel, file: string): EncoderWeightsResult {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    // Only a missing file is "not found"; a folder or an unreadable file says so.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`--encoder-weights: file '${file}' not found`);
    throw new Error(`--encoder-weights: cannot read '${file}': ${code === 'EISDIR' ? 'it is a folder, expected a .safetensors file' : (e as Error).message}`);
  }
  let sd;
  try {
    sd = loadStateDictSafetensors(bytes);
  } catch (e) {
    throw new Error(`--encoder-weights: '${file}' is not a safetensors state dict: ${(e as Error).message}`);
  }
  const names = new Set(model.torchParams().map((p) => p.name));
  const keys = [...sd.keys()];
  const hits = (prefix: string) => keys.filter((k) => names.has(prefix + k)).length;
  const prefix = ['', 'encoder.', 'encoder.model.'].reduce((best, p) => (hits(p) > hits(best) ? p : best), '');
  const r = loadStateDict(model, sd, { prefix, ignore: CLASSIFIERS, strict: false });
  const missingEncoder = r.missing.filter((n) => n.startsWith('encoder.'));
  if (r.mismatched.length || r.unexpected.length || missingEncoder.length) {
    const show = (list: string[]) => `${list.slice(0, 5).join(', ')}${list.length > 5 ? ` (+${list.length - 5} more)` : ''}`;
    const parts = [
      r.mismatched.length ? `${r.mismatched.length} of wrong shape (${show(r.mismatched.map((m) => `${m.name} [${m.got}] vs [${m.expected}]`))})` : '',
      r.unexpected.length ? `${r.unexpected.length} unknown to the model (${show(r.unexpected)})` : '',
      missingEncoder.length ? `${pluralize(missingEncoder.length, 'encoder weight')} missing (${show(missingEncoder)})` : '',
    ].filter(Boolean);
    throw new Error(`--encoder-weights: '${file}' does not fit encoder '${model.config.encoder.name}': ${parts.join('; ')}`);
  }
  return { loaded: r.loaded, prefix };
}
