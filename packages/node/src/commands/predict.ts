import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MultiTaskModel, preprocessToTensor, nounForm, pluralize } from '@busi/core';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { fileSystem } from '@busi/data';
import { renderOverlay } from '@busi/data';
import { convertChannels, decodeImage, resizeRaw, writePng } from '@busi/data';
import { modelSettings } from '../runs/model-settings';
import { outputConflict } from '../runs/output-guard';
import { writeJsonAtomic } from '../runs/run-folder';
import { ensemblePredictor, type TtaMode } from '../runs/predictor';
import { resolveModel } from '../runs/resolve-model';
import { backendOption } from '../cli/backend-option';

/** One image's prediction, as printed and written to predictions.json. */
export interface Prediction {
  image: string;
  /** Most probable class. */
  class: string;
  /** Softmax probability of each class. */
  probabilities: Record<string, number>;
  /** Share of the image's pixels predicted as lesion. */
  lesionFraction: number;
  /** Mask PNG (original size, 0/255) and overlay PNG. */
  mask: string;
  overlay: string;
}

export const predictCommand: Command = {
  name: 'predict',
  summary: 'Predict tumour masks and class probabilities for images with a trained model',
  positionals: '<image or folder...>',
  description: [
    'MODEL is a run folder (its best-model/) or a model folder. Each image is preprocessed as its model',
    'card says (size, channels, normalisation: the same code as training and the browser) and predicted;',
    'the mask is resized back to the image size. A model saved without a card gets a warning naming',
    'what is assumed; --size or --threshold against the card also warns.',
    'Writes <name>_mask.png and <name>_overlay.png per image and predictions.json into --out, prints one',
    'line per image (or the JSON with --json). Images with the same name (scan.png, scan.jpg) get',
    'distinct outputs (scan_mask.png, scan-jpg_mask.png). --out must not be or contain an input, and',
    'files there are replaced only if an earlier busi predict wrote them (listed in its predictions.json).',
    'An image that cannot be read is reported and skipped; the others are still predicted (exit code 1).',
  ].join('\n'),
  options: {
    model: { type: 'string', short: 'm', valueName: 'DIR', description: 'Run folder or model folder (required)' },
    out: { type: 'string', short: 'o', default: './busi-predictions', valueName: 'DIR', description: 'Output folder' },
    size: { type: 'int', min: 16, description: "Input size (default: the model card's, else the run's, else 448)" },
    threshold: { type: 'number', min: 0, max: 1, description: "Mask probability threshold (default: the model card's, else 0.5)" },
    json: { type: 'boolean', description: 'Print the predictions as JSON' },
    tta: { type: 'string', default: 'none', choices: ['none', 'flip'], description: 'Test-time augmentation: flip averages the probabilities of the image and its mirror image' },
    backend: backendOption(),
  },
  run: runPredict,
};

async function runPredict(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (!v.model) throw new UsageError('busi predict: --model <run folder or model folder> is required');
  if (positionals.length === 0) throw new UsageError('busi predict: give at least one image file');
  const files: string[] = [];
  for (const p of positionals.map((x) => path.resolve(ctx.cwd, x))) {
    if (!fs.existsSync(p)) throw new UsageError(`busi predict: image '${p}' not found`);
    if (fs.statSync(p).isDirectory()) {
      // A folder stands for its images; BUSI-style mask files next to them are not inputs.
      const inside = fs.readdirSync(p).filter((n) => IMAGE_NAME.test(n) && !/_mask(_\d+)?\.png$/i.test(n));
      if (inside.length === 0) throw new UsageError(`busi predict: folder '${p}' holds no images (.png, .jpg, .tif, .webp)`);
      files.push(...inside.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((n) => path.join(p, n)));
    } else files.push(p);
  }
  const resolved = resolveModel(v.model as string, ctx.cwd);
  const out = path.resolve(ctx.cwd, v.out as string);
  const inputs = [...positionals.map((x) => ({ option: 'image', path: path.resolve(ctx.cwd, x) })), { option: '--model', path: resolved.modelDir }];
  const conflict = outputConflict({ option: '--out', path: out }, inputs);
  if (conflict) throw new UsageError(`busi predict: ${conflict}`);
  const stems = outputStems(files);
  const previous = readPreviousPredictions(out);
  const ours = new Set(previous.flatMap((r) => [r.mask, r.overlay]));
  for (const stem of stems) {
    for (const f of [path.join(out, `${stem}_mask.png`), path.join(out, `${stem}_overlay.png`)]) {
      if (fs.existsSync(f) && !ours.has(f)) throw new UsageError(`busi predict: '${f}' exists and was not written by busi predict (not in ${path.join(out, 'predictions.json')}); choose another --out`);
    }
  }
  if (fs.existsSync(path.join(out, 'predictions.json')) && previous.length === 0 && fs.statSync(path.join(out, 'predictions.json')).size > 3) {
    throw new UsageError(`busi predict: '${path.join(out, 'predictions.json')}' is not a busi predictions file; choose another --out`);
  }
  await initBackend({ backend: v.backend as BackendChoice, log: false });
  const model = await MultiTaskModel.load(fileSystem(resolved.modelDir));
  const results: Prediction[] = [];
  const predictor = ensemblePredictor([model], v.tta as TtaMode);
  const failures: string[] = [];
  try {
    const warn = (s: string) => ctx.stderr.write(`busi predict: warning: ${s}\n`);
    const settings = modelSettings(model, resolved.config, { size: v.size as number | undefined, threshold: v.threshold as number | undefined }, warn, `model '${resolved.modelDir}'`);
    const { classNames, maskThreshold: threshold, preprocessing } = settings;
    const [size] = preprocessing.size;
    model.validateInput([1, ...preprocessing.size, preprocessing.channels], `--size ${size}`);
    for (const [k, file] of files.entries()) {
      let img;
      try {
        if (!IMAGE_NAME.test(file)) throw new Error(`unsupported image type '${path.extname(file) || '(none)'}'; expected .png, .jpg, .jpeg, .tif, .tiff or .webp`);
        img = convertChannels(await decodeImage(file), 3);
      } catch (e) {
        const msg = (e as Error).message;
        failures.push(msg.includes(file) ? msg : `image '${file}': ${msg}`);
        continue;
      }
      const x = preprocessToTensor(img, preprocessing);
      const { mask, probs } = tf.tidy(() => {
        const o = predictor.forward(x);
        return { mask: tf.greaterEqual(tf.sigmoid(o.mask), threshold), probs: tf.softmax(o.logits) };
      });
      x.dispose();
      const m = Uint8Array.from(await mask.data(), (b) => (b ? 255 : 0));
      const p = Array.from(await probs.data());
      tf.dispose([mask, probs]);
      const full = await resizeRaw({ data: m, height: preprocessing.size[0], width: preprocessing.size[1], channels: 1 }, [img.height, img.width], 'nearest');
      const stem = stems[k];
      const maskFile = path.join(out, `${stem}_mask.png`);
      const overlayFile = path.join(out, `${stem}_overlay.png`);
      await writePng(maskFile, full);
      await writePng(overlayFile, renderOverlay(img, full.data, { threshold: 127 }));
      let lesion = 0;
      for (const b of full.data) if (b) lesion++;
      const best = p.indexOf(Math.max(...p));
      results.push({
        image: file,
        class: classNames[best],
        probabilities: Object.fromEntries(classNames.map((c, k) => [c, p[k]])),
        lesionFraction: lesion / full.data.length,
        mask: maskFile,
        overlay: overlayFile,
      });
    }
  } finally {
    model.dispose();
  }
  const rewritten = new Set(results.map((r) => r.mask));
  writeJsonAtomic(path.join(out, 'predictions.json'), [...previous.filter((r) => !rewritten.has(r.mask)), ...results]);
  for (const f of failures) ctx.stderr.write(`busi predict: skipped ${f}\n`);
  if (v.json) ctx.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    for (const r of results) {
      const probs = Object.entries(r.probabilities).map(([c, q]) => `${c} ${(q * 100).toFixed(1)}%`).join(', ');
      ctx.stdout.write(`${path.basename(r.image)}: ${r.class} (${probs}); lesion ${(r.lesionFraction * 100).toFixed(1)}% of pixels; ${path.basename(r.mask)}, ${path.basename(r.overlay)}\n`);
    }
    ctx.stdout.write(`wrote ${pluralize(results.length, 'mask')} and ${nounForm(results.length, 'overlay')} and predictions.json to ${out}\n`);
  }
  if (failures.length > 0) {
    ctx.stderr.write(`busi predict: ${failures.length} of ${pluralize(files.length, 'image')} could not be read (listed above); the other ${results.length} ${nounForm(results.length, 'was', 'were')} predicted\n`);
    return 1;
  }
  return 0;
}

/** Image files predict reads (sharp decodes these; BMP it does not). */
const IMAGE_NAME = /\.(png|jpe?g|tiff?|webp)$/i;

/**
 * Output name stems, one per input, all distinct: the file name without extension, or with the
 * extension folded in (scan-jpg) where two inputs share a stem, then a counter if still taken.
 */
export function outputStems(files: readonly string[]): string[] {
  const plain = files.map((f) => path.basename(f).replace(/\.[^.]+$/, ''));
  const count = new Map<string, number>();
  for (const s of plain) count.set(s.toLowerCase(), (count.get(s.toLowerCase()) ?? 0) + 1);
  const used = new Set<string>();
  return files.map((f, i) => {
    let stem = plain[i];
    if (count.get(stem.toLowerCase())! > 1 && used.has(stem.toLowerCase())) stem = `${stem}-${path.extname(f).slice(1) || 'noext'}`;
    let candidate = stem;
    for (let n = 2; used.has(candidate.toLowerCase()); n++) candidate = `${stem}-${n}`;
    used.add(candidate.toLowerCase());
    return candidate;
  });
}

/** The entries of an earlier predictions.json in `out` (the files busi predict wrote there), or []. */
function readPreviousPredictions(out: string): Prediction[] {
  try {
    const list = JSON.parse(fs.readFileSync(path.join(out, 'predictions.json'), 'utf8')) as unknown;
    return Array.isArray(list) ? (list as Prediction[]).filter((r) => typeof r?.mask === 'string' && typeof r?.overlay === 'string') : [];
  } catch {
    return [];
  }
}
