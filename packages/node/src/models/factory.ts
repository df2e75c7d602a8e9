import '@busi/backbones';
import '@busi/decoders';
import { MultiTaskModel, decoders, encoders, listDecoders, listEncoders, type Decoder, type Encoder, type MultiTaskModelArgs } from '@busi/core';
import { PAPER_MODELS, findPaperModel } from './paper-models';

export * from './paper-models';

/**
 * The canonical registry name of an encoder given by any registered name or alias (smp, timm or
 * busi spelling); an unknown name comes back trimmed and lower-cased, for the caller's own error.
 */
export function encoderRegistryName(name: string): string {
  return encoders.has(name) ? encoders.resolve(name) : name.trim().toLowerCase();
}

/** The canonical registry name of a decoder given by busi name, alias or smp class name ('UnetPlusPlus', 'DeepLabV3Plus', ...). */
export function decoderRegistryName(name: string): string {
  return decoders.has(name) ? decoders.resolve(name) : name.trim().toLowerCase();
}

/** Arguments of {@link createModel}: those of `MultiTaskModel`, with names in busi or smp spelling. */
export type CreateModelArgs = MultiTaskModelArgs;

/**
 * Builds a multi-task model from registry or smp names, e.g.
 * `createModel({ encoder: 'efficientnet-b4', decoder: 'deeplabv3plus', classes: 3 })` or
 * `createModel({ encoder: 'tu-wide_resnet50_2', decoder: 'UnetPlusPlus' })`. Importing this module
 * registers every busi encoder and decoder; unknown names fail with the list of registered ones.
 * @example
 * ```ts
 * import { createModel } from '@busi/node';
 * const model = createModel({ encoder: 'efficientnet-b4', decoder: 'deeplabv3plus', classes: 3 });
 * model.countParams().total; // 18,617,564, as smp's DeepLabV3Plus(efficientnet-b4)
 * ```
 */
export function createModel(args: CreateModelArgs): MultiTaskModel {
  if (args == null || args.encoder == null || args.decoder == null) {
    throw new Error("createModel: `encoder` and `decoder` are required, e.g. { encoder: 'resnet50', decoder: 'unet' }");
  }
  checkName(args.encoder, 'encoder', encoders.has.bind(encoders), listEncoders);
  checkName(args.decoder, 'decoder', decoders.has.bind(decoders), listDecoders);
  return new MultiTaskModel(args);
}

/** Builds one of the 16 paper models by id (`FPN__resnet50`), with extra options (classes, inChannels, ...). */
export function createPaperModel(id: string, args: Omit<CreateModelArgs, 'encoder' | 'decoder'> = {}): MultiTaskModel {
  const m = findPaperModel(id);
  if (!m) throw new Error(`createPaperModel: unknown id '${id}'. Known: ${PAPER_MODELS.map((p) => p.id).join(', ')}`);
  return createModel({ ...args, encoder: m.encoder, decoder: m.decoder });
}

function checkName(spec: CreateModelArgs['encoder'] | CreateModelArgs['decoder'], kind: string, has: (n: string) => boolean, list: () => string[]): void {
  if (typeof spec === 'object' && typeof (spec as Encoder | Decoder).apply === 'function') return;
  const name = typeof spec === 'string' ? spec : (spec as { name: string }).name;
  if (!has(name)) throw new Error(`createModel: unknown ${kind} '${name}'. Registered ${kind}s: ${list().join(', ')}`);
}
