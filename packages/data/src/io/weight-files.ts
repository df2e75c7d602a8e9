import * as fs from 'node:fs';
import * as path from 'node:path';
import { previewJson, weightSpecBytes } from '@busi/core';

/**
 * Reading the weight files that a model.json names, as a hostile model.json could not abuse:
 * paths stay inside the model folder (no `..`, no absolute paths, no symbolic link out of it),
 * only regular files are read (not /dev/zero, not a FIFO that blocks forever), and each group's
 * sizes are checked against the manifest before a byte is read. Errors about a path that points
 * outside the folder say nothing about that path's target (its existence or size).
 */

/** One manifest group as it appears in model.json. */
interface ManifestGroup {
  paths: unknown;
  weights: unknown;
}

/** The weight files of a manifest, checked; the specs in order and the concatenated bytes. */
export interface WeightFiles {
  /** Every group's weight entries, in order. */
  specs: unknown[];
  /** The files' bytes, concatenated in manifest order. */
  data: Buffer;
}

/**
 * Resolves one manifest path inside `folder` (its real path); throws, naming `jsonPath`, for
 * anything that is not a relative path to a regular file inside the folder.
 */
export function resolveWeightPath(folder: string, realFolder: string, p: unknown, jsonPath: string): { file: string; size: number } {
  if (typeof p !== 'string' || p === '') throw new Error(`'${jsonPath}': a weightsManifest path is ${previewJson(p)}, expected a file name relative to the model folder`);
  if (p.includes('\0')) throw new Error(`'${jsonPath}': weightsManifest path ${previewJson(p)} contains a NUL byte`);
  if (path.isAbsolute(p) || path.win32.isAbsolute(p)) throw new Error(`'${jsonPath}': weightsManifest path '${p}' is absolute; weight files must be inside the model folder`);
  if (p.split(/[\\/]+/).includes('..')) throw new Error(`'${jsonPath}': weightsManifest path '${p}' leaves the model folder ('..'); weight files must be inside it`);
  const file = path.resolve(folder, p);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new Error(`'${jsonPath}': weight file '${p}' is missing from '${folder}'`);
  }
  if (real !== realFolder && !real.startsWith(realFolder + path.sep)) {
    throw new Error(`'${jsonPath}': weight file '${p}' is a symbolic link out of the model folder; weight files must be inside it`);
  }
  const stat = fs.statSync(real);
  if (!stat.isFile()) throw new Error(`'${jsonPath}': weight file '${p}' is not a regular file`);
  return { file: real, size: stat.size };
}

/** Checks and reads the weight files of `manifest` (model.json's `weightsManifest`) in `folder`. */
export function readWeightFiles(folder: string, manifest: unknown, jsonPath: string): WeightFiles {
  if (manifest === undefined || manifest === null) {
    throw new Error(`'${jsonPath}' has no weightsManifest; without one the model would load with random weights`);
  }
  if (!Array.isArray(manifest)) throw new Error(`'${jsonPath}': weightsManifest is ${previewJson(manifest)}, expected a list of {paths, weights}`);
  const realFolder = fs.realpathSync(folder);
  const specs: unknown[] = [];
  const groups: { files: { file: string; size: number }[]; bytes: number; name: string }[] = [];
  for (const [g, raw] of manifest.entries()) {
    const group = raw as ManifestGroup;
    if (group === null || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`'${jsonPath}': weightsManifest group ${g} is not {paths: [...], weights: [...]}`);
    }
    const bytes = group.weights.reduce((n: number, s) => n + weightSpecBytes(s, `'${jsonPath}'`), 0);
    const files = group.paths.map((p) => resolveWeightPath(folder, realFolder, p, jsonPath));
    const have = files.reduce((n, f) => n + f.size, 0);
    if (have !== bytes) {
      const names = group.paths.map(String).join(', ');
      throw new Error(`'${jsonPath}': weight file(s) ${names} hold ${have} bytes, the manifest's shapes and dtypes describe ${bytes} (truncated file, or edited shapes/dtypes?)`);
    }
    specs.push(...group.weights);
    groups.push({ files, bytes, name: String(group.paths[0]) });
  }
  const buffers: Buffer[] = [];
  for (const group of groups) {
    for (const f of group.files) {
      const b = fs.readFileSync(f.file);
      // The file may have changed since it was measured; never hand on more than was checked.
      if (b.length !== f.size) throw new Error(`'${jsonPath}': weight file '${f.file}' changed size while it was read`);
      buffers.push(b);
    }
  }
  return { specs, data: Buffer.concat(buffers) };
}
