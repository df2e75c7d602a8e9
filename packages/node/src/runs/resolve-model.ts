import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../cli/args';
import { RUN_FILES } from './run-folder';
import { readRunConfig, type RunConfig } from './train-run';

/** A model to use: its folder, and the run folder and config it belongs to, if any. */
export interface ResolvedModel {
  modelDir: string;
  runDir: string | null;
  config: RunConfig | null;
}

/** Resolves `--model`: a run folder (→ best-model/ or last-model/) or a model folder. */
export function resolveModel(arg: string, cwd: string, which: 'best' | 'last' = 'best'): ResolvedModel {
  let dir = path.resolve(cwd, arg);
  // model.json itself names its folder (tfjs users often give the file).
  if (path.basename(dir) === 'model.json' && fs.existsSync(dir) && fs.statSync(dir).isFile()) dir = path.dirname(dir);
  if (!fs.existsSync(dir)) throw new UsageError(`--model: '${dir}' not found (expected a run folder or a model folder with model.json)`);
  if (fs.existsSync(path.join(dir, RUN_FILES.config))) {
    const config = readRunConfig(dir);
    const candidates = which === 'best' ? [RUN_FILES.best, RUN_FILES.last] : [RUN_FILES.last, `${RUN_FILES.checkpoint}/model`];
    const found = candidates.map((c) => path.join(dir, c)).find((d) => fs.existsSync(path.join(d, 'model.json')));
    if (!found) throw new UsageError(`--model: run folder '${dir}' has no ${candidates.join(' or ')} yet (has it trained an epoch?)`);
    return { modelDir: found, runDir: dir, config };
  }
  if (fs.existsSync(path.join(dir, 'model.json'))) {
    const parent = path.dirname(dir);
    const isRun = fs.existsSync(path.join(parent, RUN_FILES.config));
    return { modelDir: dir, runDir: isRun ? parent : null, config: isRun ? readRunConfig(parent) : null };
  }
  throw new UsageError(`--model: '${dir}' is neither a run folder (config.json) nor a model folder (model.json)`);
}
