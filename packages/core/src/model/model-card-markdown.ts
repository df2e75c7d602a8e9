import type { ModelCard } from './model-card';
import type { MultiTaskModelConfig } from './multi-task-model';

/**
 * `MODEL_CARD.md`: the card as a human-readable page (in the spirit of Hugging Face model cards):
 * what the model outputs, how to feed it, how it was trained and how well it did. Written beside
 * `model.json` on save; `model.json` stays the source the tools read.
 */
export function modelCardMarkdown(card: ModelCard, config: MultiTaskModelConfig, parameters?: number): string {
  const p = card.preprocessing;
  const fmt = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)).toString() : String(v));
  const table = (rows: [string, unknown][]) => ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${fmt(v).replace(/\|/g, '\\|')} |`)].join('\n');
  const lines = [
    `# ${config.name}`,
    '',
    card.description ?? 'A busi multi-task model: a tumour mask and a class for a breast-ultrasound image.',
    '',
    '## Use',
    '',
    `Input: ${p.size[0]}×${p.size[1]} pixels, ${p.channels} channel(s). Preprocessing, in this order: convert to ${p.channels === 1 ? 'gray (mean of R, G, B)' : 'RGB (gray replicated)'}, ` +
      `resize (stretch) with busi's antialiased bilinear filter to 8 bits, divide by 255, subtract mean [${p.normalization.mean.join(', ')}] and divide by std [${p.normalization.std.join(', ')}] per channel.`,
    '',
    `Outputs: mask logits [N, ${p.size[0]}, ${p.size[1]}, ${config.segmentationClasses}] (sigmoid; a pixel is lesion from probability ${card.maskThreshold}) ` +
      `and class logits [N, ${config.classes}] (softmax) for ${card.classNames.join(', ')}.`,
    '',
    '```sh',
    'npx busi predict --model <this folder> scan.png',
    '```',
    '',
    '## Architecture',
    '',
    table([
      ['encoder', `${config.encoder.name} (output stride ${config.outputStride})`],
      ['decoder', config.decoder.name],
      ['classification head', `${config.classificationHead.pooling} pool, dropout ${config.classificationHead.dropout}`],
      ...(parameters !== undefined ? ([['parameters', parameters.toLocaleString('en-US')]] as [string, unknown][]) : []),
    ]),
  ];
  if (card.training) lines.push('', '## Training', '', table(Object.entries(card.training)));
  if (card.split) {
    const s = card.split;
    const test = s.test !== undefined;
    lines.push('', '## Split', '', `${s.train} training, ${s.validation} validation${test ? ` and ${s.test} test` : ''} images${s.method ? ` (${s.method})` : ''}.`);
    if (s.perClass) {
      lines.push('', `| class | train | validation |${test ? ' test |' : ''}`, `|---|---|---|${test ? '---|' : ''}`);
      lines.push(...Object.entries(s.perClass).map(([c, n]) => `| ${c} | ${n.join(' | ')} |`));
    }
  }
  if (card.metrics && Object.keys(card.metrics).length) lines.push('', '## Validation metrics', '', table(Object.entries(card.metrics)));
  lines.push('', '## Versions', '', `busi ${card.versions.busi}, TensorFlow.js ${card.versions.tfjs}; card written ${card.created}.`, '');
  lines.push('Research model, not a medical device.', '');
  return lines.join('\n');
}
