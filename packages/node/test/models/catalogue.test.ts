/**
 * The registry is the catalogue: every registered encoder and decoder that reproduces an smp model
 * has a parity fixture (run by the parity tests), its registered parameter counts equal the
 * reference's counts in those fixtures, and docs/models.md shows exactly what the registry holds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decoders, encoders, listDecoders, listEncoders } from '@busi/core';
import { catalogueMarkdown, findPaperModel, listParityFixtures, registerSlimResNet } from '../../src';

const root = path.resolve(__dirname, '../../../..');
const FIXTURES = path.join(root, 'fixtures');

interface FixtureCounts {
  decoder: string;
  encoder: string;
  counts: { total: number; encoder: number; decoder: number; segmentation_head: number; classification_head: number };
}

/** Every `<Decoder>__<encoder>.json` parity fixture under fixtures/, by name. */
function allFixtures(): Map<string, FixtureCounts> {
  const out = new Map<string, FixtureCounts>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
    for (const f of listParityFixtures(dir)) out.set(f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as FixtureCounts);
  };
  walk(FIXTURES);
  return out;
}

const fixtures = allFixtures();
registerSlimResNet();

test('every registered smp encoder has a parity fixture whose encoder count is the registered one', () => {
  const problems: string[] = [];
  const busiOnly: string[] = [];
  for (const name of listEncoders()) {
    const info = encoders.info(name);
    if (!info.reference) {
      busiOnly.push(name);
      continue;
    }
    // PSPNet builds a depth-3 encoder: smp's torchvision and EfficientNet encoders still hold every stage
    // (so do busi's), timm's are pruned, so a tu- PSPNet fixture counts only part of the encoder.
    const mine = [...fixtures.values()].filter((f) => f.encoder === info.reference!.name && !(f.decoder === 'PSPNet' && f.encoder.startsWith('tu-')));
    if (!mine.some((f) => f.decoder === 'Unet')) problems.push(`${name}: no Unet fixture names smp encoder '${info.reference.name}'`);
    for (const f of mine) if (f.counts.encoder !== info.params) problems.push(`${name}: registered ${info.params} params, fixture ${f.decoder}__${f.encoder} ${f.counts.encoder}`);
  }
  expect(problems).toEqual([]);
  // Encoders without an smp counterpart are the demo ones, listed here so a new one is a decision.
  expect(busiOnly).toEqual(['slim-resnet']);
});

test('every registered smp decoder has parity fixtures, and its reference counts are the fixtures\'', () => {
  const problems: string[] = [];
  for (const name of listDecoders()) {
    const ref = decoders.info(name).reference;
    if (!ref) {
      problems.push(`${name}: no reference (every busi decoder reproduces an smp one)`);
      continue;
    }
    const mine = [...fixtures.values()].filter((f) => f.decoder === ref.name);
    if (mine.length === 0) problems.push(`${name}: no fixture for smp class ${ref.name}`);
    for (const f of mine) {
      if (f.counts.segmentation_head !== ref.segmentationHeadParams) problems.push(`${name}: seg head ${ref.segmentationHeadParams} vs ${f.counts.segmentation_head}`);
      const want = ref.params[encoders.has(f.encoder) ? encoders.resolve(f.encoder) : f.encoder];
      if (want != null && want !== f.counts.decoder) problems.push(`${name}: ${want} decoder params with ${f.encoder}, fixture ${f.counts.decoder}`);
    }
  }
  expect(problems).toEqual([]);
});

test("the paper models' reference counts equal their fixtures'", () => {
  for (const [id, f] of fixtures) {
    const m = findPaperModel(id);
    if (!m) continue;
    expect({ id, ...m.params, dead: undefined }).toEqual({
      id,
      total: f.counts.total,
      encoder: f.counts.encoder,
      decoder: f.counts.decoder,
      segmentationHead: f.counts.segmentation_head,
      classificationHead: f.counts.classification_head,
      dead: undefined,
    });
  }
});

test('names resolve through the registry: smp names, aliases, and timm-style tu- ResNets', () => {
  expect(decoders.resolve('UnetPlusPlus')).toBe('unetplusplus');
  expect(decoders.resolve('unet++')).toBe('unetplusplus');
  expect(decoders.resolve('DeepLabV3+')).toBe('deeplabv3plus');
  expect(encoders.resolve('wide_resnet50_2')).toBe('tu-wide_resnet50_2');
  // smp builds tu-resnet50 with timm (weights under encoder.model.*), so it is not an alias of the torchvision-style resnet50.
  expect(encoders.resolve('tu-resnet50')).toBe('tu-resnet50');
  expect(encoders.info('tu-resnet50').reference).toMatchObject({ source: 'timm', sourceName: 'resnet50' });
  expect(encoders.info('resnet50').reference).toMatchObject({ source: 'torchvision', sourceName: 'resnet50' });
});

test('docs/models.md holds the generated catalogue tables', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'models.md'), 'utf8');
  const m = /<!-- catalogue:start[^>]*-->\n([\s\S]*?)\n<!-- catalogue:end -->/.exec(doc);
  expect(m).not.toBeNull();
  expect(m![1]).toBe(catalogueMarkdown());
});
