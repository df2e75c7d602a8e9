/**
 * One preprocessing path (issue 12 item 2): every way an image reaches a model (training and
 * evaluation data, `busi predict`, the browser demo) scales, resizes and normalises through
 * @busi/core's preprocessing module, and the two forms it offers (intensities then normalise, or
 * normalise pixels directly) give the same bits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMAGENET_NORMALIZATION, normalizeIntensities, normalizePixels, pixelsToIntensities, intensitiesToPixels } from '@busi/core';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const PREPROCESSING = 'packages/core/src/preprocessing/';
// The layer that resizes feature maps inside the model (not images): PyTorch's interpolate.
const MODEL_RESIZE = 'packages/core/src/layers/resize.ts';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'dist') out.push(...sources(rel));
    } else if (/\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Code without comments and string literals, so prose about "0/255 masks" is not code. */
function code(file: string): string {
  return fs
    .readFileSync(path.join(root, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/`(?:\\.|[^`\\])*`|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"/g, "''");
}

const files = [...fs.readdirSync(path.join(root, 'packages')).flatMap((p) => sources(`packages/${p}/src`)), ...sources('examples/browser')].filter(
  (f) => !f.startsWith(PREPROCESSING) && f !== MODEL_RESIZE && !f.includes('/dist/'),
);

test('no image path scales pixels or resizes images outside the preprocessing module', () => {
  expect(files.length).toBeGreaterThan(100);
  const offenders: string[] = [];
  for (const f of files) {
    const c = code(f);
    // Scaling 8-bit values to [0, 1], or resizing with tfjs or sharp, is the preprocessing module's job.
    for (const [what, re] of [
      ['divides by 255', /\/\s*255(?:\.0*)?\b/],
      ['tf.image.resize*', /tf\.image\.resize/],
      ['sharp resize', /\.resize\s*\(/],
    ] as const) {
      if (re.test(c)) offenders.push(`${f}: ${what}`);
    }
  }
  expect(offenders).toEqual([]);
});

test('the checker sees a division by 255 in code, not in comments or strings', () => {
  const tmp = path.join(root, 'packages', 'node', 'test', 'structure', '.tmp-preprocessing-probe.ts');
  fs.writeFileSync(tmp, "// x / 255 in a comment\nconst s = 'y / 255';\nexport const v = (p: number) => p / 255;\n");
  try {
    const c = code(path.relative(root, tmp));
    expect(/\/\s*255\b/.test(c)).toBe(true);
    expect(c).not.toMatch(/comment/);
  } finally {
    fs.rmSync(tmp);
  }
});

test('each way into a model uses the preprocessing module', () => {
  const uses: Record<string, RegExp> = {
    'packages/data/src/busi.ts': /\bresizePixels\b/, // BUSI images and masks, for training and evaluation
    'packages/data/src/dataset.ts': /\bnormalizePixels\b/,
    'packages/data/src/augment.ts': /\bnormalizeIntensities\b/, // the training batches
    'packages/node/src/runs/data.ts': /\bpixelsToIntensities\b/, // busi train / evaluate's sample source
    'packages/node/src/commands/predict.ts': /\bpreprocessToTensor\b/,
    'examples/browser/main.ts': /\bpreprocessToTensor\b/,
  };
  for (const [file, re] of Object.entries(uses)) expect([file, re.test(code(file))]).toEqual([file, true]);
});

test('intensities then normalisation give the same bits as normalising pixels', () => {
  const pixels = new Uint8Array(256 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(i / 3);
  const direct = normalizePixels(pixels, IMAGENET_NORMALIZATION);
  const viaIntensities = normalizeIntensities(pixelsToIntensities(pixels), IMAGENET_NORMALIZATION);
  expect(Buffer.from(viaIntensities.buffer).equals(Buffer.from(direct.buffer))).toBe(true);
  expect(Array.from(intensitiesToPixels(pixelsToIntensities(pixels)))).toEqual(Array.from(pixels));
  expect(Array.from(intensitiesToPixels([-0.5, 1.5]))).toEqual([0, 255]);
});
