import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MODEL_CARD_KEY, modelCardMarkdown, type ModelCard, type MultiTaskModelConfig } from '@busi/core';
import { readWeightFiles } from './weight-files';

/** Options of {@link fileSystem}. */
export interface FileSystemOptions {
  /** Replace an existing model folder on save. Default false: saving over an existing folder throws. */
  force?: boolean;
  /** Name of the weights file. Default 'weights.bin'. */
  weightsFileName?: string;
}

const MODEL_JSON = 'model.json';
/** The human-readable model card written beside model.json when the model has a card. */
export const MODEL_CARD_FILE = 'MODEL_CARD.md';

/**
 * A tfjs IO handler on a folder holding `model.json` and one weights file, for `model.save(...)`
 * and `tfl.loadLayersModel(...)` / `MultiTaskModel.load(...)` in Node.
 *
 * Saving is atomic: everything is written to a temporary sibling folder which is then renamed into
 * place, so an interrupted save never leaves a half-written model. An existing folder is only
 * replaced with `force: true`. A model with a model card also gets `MODEL_CARD.md` (the card in
 * words) in the same folder.
 *
 * @example
 * ```ts
 * await model.save(fileSystem('./my-model'));
 * const again = await MultiTaskModel.load(fileSystem('./my-model'));
 * ```
 */
export function fileSystem(dir: string, options: FileSystemOptions = {}): tf.io.IOHandler {
  const target = path.resolve(dir);
  const weightsFileName = options.weightsFileName ?? 'weights.bin';
  if (weightsFileName.includes('/') || weightsFileName.includes(path.sep) || weightsFileName === MODEL_JSON) {
    throw new Error(`fileSystem: invalid weightsFileName '${weightsFileName}'`);
  }
  const handler: tf.io.IOHandler = {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystem: saving a binary (protobuf) model topology is not supported');
      }
      if (fs.existsSync(target) && !options.force) {
        throw new Error(`fileSystem: '${target}' already exists; pass force: true (CLI: --force) to overwrite it`);
      }
      const weights = artifacts.weightData ? new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)) : new Uint8Array(0);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: [`./${weightsFileName}`], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.modelInitializer ? { modelInitializer: artifacts.modelInitializer } : {}),
      };
      const parent = path.dirname(target);
      await fs.promises.mkdir(parent, { recursive: true });
      const tmp = await fs.promises.mkdtemp(path.join(parent, `.${path.basename(target)}.tmp-`));
      // A failed write() (ENOSPC, EROFS, EIO) names no file; say which model and which file.
      const write = (name: string, data: string | Uint8Array) =>
        fs.promises.writeFile(path.join(tmp, name), data).catch((e: Error) => {
          throw new Error(`fileSystem: cannot save the model to '${target}' (writing ${name}): ${e.message}`);
        });
      try {
        await write(weightsFileName, weights);
        await write(MODEL_JSON, JSON.stringify(modelJson));
        const card = cardMarkdown(artifacts);
        if (card) await write(MODEL_CARD_FILE, card);
        await replaceDir(tmp, target, !!options.force);
      } catch (e) {
        await fs.promises.rm(tmp, { recursive: true, force: true });
        throw e;
      }
      return {
        modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights.buffer }),
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(target, MODEL_JSON);
      const modelJson = readModelJson(jsonPath);
      const { specs, data } = readWeightFiles(target, modelJson.weightsManifest, jsonPath);
      const { weightsManifest: _manifest, ...rest } = modelJson;
      const weightData = new Uint8Array(data).buffer as ArrayBuffer;
      return { ...rest, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData } as tf.io.ModelArtifacts;
    },
  };
  // Lets MultiTaskModel.load name the file in its errors.
  return Object.assign(handler, { source: path.join(target, MODEL_JSON) });
}

/** A model.json larger than this is refused before it is read (busi's are well under 1 MB). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** Reads and parses model.json: a regular file of sane size holding an object with a modelTopology. */
function readModelJson(jsonPath: string): tf.io.ModelJSON {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(jsonPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: the "folder" is a file (often model.json itself); that file exists, so not "not found".
    if (code === 'ENOTDIR') throw new Error(`fileSystem: '${path.dirname(jsonPath)}' is a file, expected a model folder holding model.json and its weights`);
    if (code !== 'ENOENT') throw new Error(`fileSystem: cannot read '${jsonPath}': ${(e as Error).message}`);
    throw new Error(`fileSystem: '${jsonPath}' not found (expected a model folder holding model.json and its weights)`);
  }
  if (!stat.isFile()) throw new Error(`fileSystem: '${jsonPath}' is not a regular file`);
  if (stat.size > MAX_MODEL_JSON_BYTES) throw new Error(`fileSystem: '${jsonPath}' is ${stat.size} bytes, more than the ${MAX_MODEL_JSON_BYTES}-byte limit for a model.json`);
  let text: string;
  try {
    text = fs.readFileSync(jsonPath, 'utf8');
  } catch (e) {
    throw new Error(`fileSystem: cannot read '${jsonPath}': ${(e as Error).message}`);
  }
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new Error(`fileSystem: '${jsonPath}' is not valid JSON: ${(e as Error).message}`);
  }
  if (modelJson === null || typeof modelJson !== 'object' || Array.isArray(modelJson)) throw new Error(`fileSystem: '${jsonPath}' is not a JSON object`);
  if (modelJson.modelTopology == null) throw new Error(`fileSystem: '${jsonPath}' has no modelTopology`);
  return modelJson;
}

/** MODEL_CARD.md for a busi model with a card (its config and card are in the metadata), else null. */
function cardMarkdown(artifacts: tf.io.ModelArtifacts): string | null {
  const meta = artifacts.userDefinedMetadata as Record<string, unknown> | undefined;
  const card = meta?.[MODEL_CARD_KEY] as ModelCard | undefined;
  const config = meta?.['busi'] as MultiTaskModelConfig | undefined;
  if (!card || !config) return null;
  return modelCardMarkdown(card, config);
}

/** Puts `tmp` at `target`; an old `target` is moved aside first and deleted only once the new one is in place. */
async function replaceDir(tmp: string, target: string, force: boolean): Promise<void> {
  if (!fs.existsSync(target)) {
    await fs.promises.rename(tmp, target);
    return;
  }
  if (!force) throw new Error(`fileSystem: '${target}' already exists; pass force: true to overwrite it`);
  const stat = await fs.promises.stat(target);
  if (!stat.isDirectory()) throw new Error(`fileSystem: '${target}' exists and is not a folder`);
  const old = `${tmp}.old`;
  await fs.promises.rename(target, old);
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rename(old, target);
    throw e;
  }
  await fs.promises.rm(old, { recursive: true, force: true });
}

let routerRegistered = false;

/** The model folder of a file:// URL: the URL's path, or the folder of a `.../model.json` it names. */
export function fileUrlFolder(url: string): string {
  let p = decodeURIComponent(url.slice('file://'.length));
  if (/^\/[A-Za-z]:\//.test(p)) p = p.slice(1); // file:///C:/... on Windows
  return path.basename(p) === MODEL_JSON ? path.dirname(p) : p;
}

/**
 * Lets `model.save('file://dir')`, `loadLayersModel('file://dir')` and the tfjs convention
 * `MultiTaskModel.load('file:///path/to/model.json')` use {@link fileSystem} (idempotent; importing
 * `@busi/data` calls it).
 */
export function registerFileSystemRouter(): void {
  if (routerRegistered) return;
  routerRegistered = true;
  const route = (url: string | string[]): tf.io.IOHandler | null =>
    Array.isArray(url) || !url.startsWith('file://') ? null : fileSystem(fileUrlFolder(url));
  // tfjs routers signal "not mine" with null although the IORouter type does not say so.
  tf.io.registerSaveRouter(route as Parameters<typeof tf.io.registerSaveRouter>[0]);
  tf.io.registerLoadRouter(route as Parameters<typeof tf.io.registerSaveRouter>[0]);
}
