import * as path from 'node:path';
import { findNearDuplicates, formatNearDuplicateReport, readBusiFolder } from '@busi/data';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { writeJsonAtomic } from '../runs/run-folder';

export const duplicatesCommand: Command = {
  name: 'duplicates',
  summary: 'List near-duplicate images of a BUSI folder: groups, cross-class groups, disagreeing masks',
  description: [
    'Finds resized, re-encoded, slightly cropped or marked copies (and identical ones): a perceptual hash',
    'proposes pairs, an aligned correlation of detail thumbnails verifies them (docs/evaluation.md has',
    'the validation figures). Prints the counts, the cross-class groups (one picture, two labels), the',
    'copies whose mask files disagree, and every group; --json writes the full report. These are the',
    'groups busi train and busi cv keep in one part of their splits.',
  ].join('\n'),
  options: {
    data: { type: 'string', short: 'd', valueName: 'DIR', description: 'BUSI folder (required)' },
    json: { type: 'string', valueName: 'FILE', description: 'Also write the report as JSON' },
    'min-similarity': { type: 'number', default: 0.75, min: 0, max: 1, description: 'Verified pairs: aligned detail correlation at least this' },
    'max-hash-distance': { type: 'int', default: 22, min: 0, max: 63, description: 'Candidate pairs: perceptual hashes at most this many bits apart' },
    'mask-dice-below': { type: 'number', default: 0.8, min: 0, max: 1, description: 'Report linked copies whose masks agree less than this (Dice)' },
  },
  run: runDuplicates,
};

async function runDuplicates(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi duplicates: unexpected argument '${positionals[0]}'; give the folder with --data`);
  if (!v.data) throw new UsageError('busi duplicates: --data <BUSI folder> is required');
  const index = readBusiFolder(path.resolve(ctx.cwd, v.data as string));
  const report = await findNearDuplicates(index, {
    minSimilarity: v['min-similarity'] as number,
    maxHashDistance: v['max-hash-distance'] as number,
    maskDiceBelow: v['mask-dice-below'] as number,
  });
  ctx.stdout.write(`${formatNearDuplicateReport(report)}\n`);
  if (v.json) {
    const file = path.resolve(ctx.cwd, v.json as string);
    writeJsonAtomic(file, report);
    ctx.stdout.write(`wrote ${file}\n`);
  }
  return 0;
}
