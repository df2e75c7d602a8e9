/**
 * Regenerates the table of docs/models.md: builds each of the 16 paper models on the cpu backend
 * (weights are initialised, nothing is run), counts parameters and Conv2d/Linear MACs at 448²
 * with `countMacs`, and prints Markdown checked against smp v0.3.3's numbers.
 *
 *   npx esbuild scripts/models-table.ts --bundle --platform=node --outfile=/tmp/models-table.cjs \
 *     --external:@tensorflow/* --external:sharp && node /tmp/models-table.cjs
 * (after `npm run build`, the @busi/* imports resolve to the packages' dist.)
 * With `--catalogue` it prints the encoder and decoder tables generated from the registry instead
 * (nothing is built), which docs/models.md holds between its `catalogue` markers.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { catalogueMarkdown, measurePaperModels, paperModelsMarkdown } from '@busi/node';

async function main(): Promise<void> {
  if (process.argv.includes('--catalogue')) {
    process.stdout.write(`${catalogueMarkdown()}\n`);
    return;
  }
  await tf.setBackend('cpu');
  const rows = measurePaperModels([448, 448], (r) => process.stderr.write(`${r.model.id}: ${r.measured ? r.measured.total : 'skipped'}\n`));
  process.stdout.write(`${paperModelsMarkdown(rows)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
