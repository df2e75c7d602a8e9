import { countMacs, decoders, encoders } from '@busi/core';
import { PAPER_MODELS, createModel, type PaperModel } from './factory';

/** Measured numbers of one paper model, beside the reference's. */
export interface PaperModelRow {
  /** The paper model and the reference's numbers. */
  model: PaperModel;
  /** What busi's build of it counts; null when the encoder is not registered. */
  measured: {
    /** All parameters of the built model. */
    total: number;
    /** The encoder's parameters. */
    encoder: number;
    /** The decoder's parameters. */
    decoder: number;
    /** The segmentation head's parameters. */
    segmentationHead: number;
    /** The classification head's parameters. */
    classificationHead: number;
    /** Conv2d + Linear MACs at batch 1 and the given size, in 1e9. */
    gmacs: number;
    /** The encoder's share of `gmacs`, same units. */
    encoderGmacs: number;
  } | null;
}

/** Builds each of the 16 paper models in turn (then disposes it) and measures parameters and MACs at `size`. */
export function measurePaperModels(size: [number, number] = [448, 448], onRow?: (row: PaperModelRow) => void): PaperModelRow[] {
  const rows: PaperModelRow[] = [];
  for (const m of PAPER_MODELS) {
    let row: PaperModelRow = { model: m, measured: null };
    if (encoders.has(m.encoder)) {
      const model = createModel({ encoder: m.encoder, decoder: m.decoder, classes: 3 });
      try {
        const p = model.countParams();
        const macs = countMacs(model, size);
        row = {
          model: m,
          measured: {
            total: p.total,
            encoder: p.encoder,
            decoder: p.decoder,
            segmentationHead: p.segmentationHead,
            classificationHead: p.classificationHead,
            gmacs: macs.total / 1e9,
            encoderGmacs: macs.encoder / 1e9,
          },
        };
      } finally {
        model.dispose();
      }
    }
    rows.push(row);
    onRow?.(row);
  }
  return rows;
}

const int = (n: number) => n.toLocaleString('en-US');

/** The Markdown table of docs/models.md: busi's measured numbers, checked against smp v0.3.3's. */
export function paperModelsMarkdown(rows: PaperModelRow[], size: [number, number] = [448, 448]): string {
  const lines = [
    `| Decoder | Encoder | createModel | Total params | Encoder | Decoder | Seg head | Cls head | Dead | GMACs @${size[0]}×${size[1]} | GFLOPs | Enc GMACs | = smp v0.3.3 |`,
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|',
  ];
  for (const { model: m, measured: x } of rows) {
    const call = `\`{ decoder: '${m.decoder}', encoder: '${m.encoder}' }\``;
    if (!x) {
      lines.push(`| ${m.smpDecoder} | ${m.smpEncoder} | ${call} | (encoder not registered) | | | | | | | | | |`);
      continue;
    }
    const paramsMatch =
      x.total === m.params.total &&
      x.encoder === m.params.encoder &&
      x.decoder === m.params.decoder &&
      x.segmentationHead === m.params.segmentationHead &&
      x.classificationHead === m.params.classificationHead;
    const is448 = size[0] === 448 && size[1] === 448;
    const macsMatch = !is448 || (Math.abs(x.gmacs - m.gmacs) <= 0.0051 && Math.abs(x.encoderGmacs - m.encoderGmacs) <= 0.0051);
    lines.push(
      `| ${m.smpDecoder} | ${m.smpEncoder} | ${call} | ${int(x.total)} | ${int(x.encoder)} | ${int(x.decoder)} | ${int(x.segmentationHead)} | ` +
        `${int(x.classificationHead)} | ${int(m.params.dead)} | ${x.gmacs.toFixed(2)} | ${(2 * x.gmacs).toFixed(1)} | ${x.encoderGmacs.toFixed(2)} | ` +
        `${paramsMatch && macsMatch ? 'yes' : `**no** (ref ${int(m.params.total)} params, ${m.gmacs} GMACs)`} |`,
    );
  }
  return lines.join('\n');
}

const list = (names: readonly string[] | undefined) => (names?.length ? names.map((n) => `\`${n}\``).join(', ') : '');

/**
 * The encoder and decoder tables of docs/models.md, generated from the registry entries alone
 * (names, aliases, reference names, channels, parameter counts); a test keeps the docs equal to it
 * and the registry's counts equal to the parity fixtures'.
 */
export function catalogueMarkdown(): string {
  const lines = [
    '### Encoders',
    '',
    '| registry name | aliases | smp `encoder_name` | from | channels (input first) | params | parity fixture (with Unet) |',
    '|---|---|---|---|---|---:|---|',
  ];
  for (const { name, info } of encoders.catalogue()) {
    const ref = info.reference;
    const from = ref ? `${ref.source} \`${ref.sourceName}\`` : 'busi only';
    const params = info.params == null ? '' : int(info.params);
    lines.push(
      `| \`${name}\` | ${list(info.aliases)} | ${ref ? `\`${ref.name}\`` : '—'} | ${from} | ${info.outChannels.join(', ')} | ${params} | ${ref ? `Unet__${ref.name}` : 'none (no smp counterpart)'} |`,
    );
  }
  const paperEncoders = [...new Set(PAPER_MODELS.map((m) => m.encoder))];
  lines.push(
    '',
    '### Decoders',
    '',
    `Decoder parameters with each of the paper's encoders (${paperEncoders.map((e) => `\`${e}\``).join(', ')}), and the segmentation head's for one mask channel.`,
    '',
    `| registry name | aliases | smp class | encoder stride | ${paperEncoders.join(' | ')} | seg head |`,
    `|---|---|---|---:|${paperEncoders.map(() => '---:|').join('')}---:|`,
  );
  for (const { name, info } of decoders.catalogue()) {
    const ref = info.reference;
    const counts = paperEncoders.map((e) => (ref?.params[e] == null ? '' : int(ref.params[e])));
    lines.push(
      `| \`${name}\` | ${list(info.aliases)} | ${ref ? `${ref.name}${ref.version ? ` (smp ${ref.version})` : ''}` : 'busi only'} | ${info.encoderOutputStride ?? 32} | ${counts.join(' | ')} | ${ref ? int(ref.segmentationHeadParams) : ''} |`,
    );
  }
  return lines.join('\n');
}
