import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Keeps outputs away from inputs: an output folder that equals an input or contains one (a
 * dataset, a model, a split file, weights, the images to predict) would be overwritten or
 * deleted by the command, so it is refused before anything is written.
 */

/** A path the user gave, with the option that named it. */
export interface NamedPath {
  /** e.g. '--data', '--model', 'image'. */
  option: string;
  /** The path as resolved against the working directory. */
  path: string;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (symbolic links resolved). */
export function realPathOf(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** Whether `inner` is `outer` or lies inside it. */
export function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The first conflict between `output` and `inputs` (an input equal to the output or inside it),
 * as a message naming both options and paths, or null when they are apart.
 */
export function outputConflict(output: NamedPath, inputs: readonly NamedPath[]): string | null {
  const out = realPathOf(output.path);
  for (const input of inputs) {
    const inp = realPathOf(input.path);
    if (isWithin(inp, out)) {
      const how = inp === out ? 'is' : 'contains';
      return `${output.option} '${output.path}' ${how} the ${input.option} input '${input.path}'; writing there would overwrite or delete it. Choose an output folder apart from the inputs`;
    }
  }
  return null;
}
