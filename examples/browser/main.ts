// The in-browser demo: loads a saved busi model from a URL, runs an ultrasound image chosen with the
// file input, and shows the predicted mask over the image, the class probabilities and the time.
// Built by build.mjs (esbuild); the tfjs wasm binaries are served beside the page.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BUSI_CLASSES, MultiTaskModel } from '@busi/core';

/** What the page shows after a run; also exposed as `window.busiDemo.last` for tests. */
export interface DemoResult {
  probabilities: number[];
  classNames: string[];
  predicted: string;
  milliseconds: number;
  backend: string;
  size: [number, number];
}

const params = new URLSearchParams(location.search);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const fileInput = $<HTMLInputElement>('image');
const modelUrl = $<HTMLInputElement>('model-url');
const canvas = $<HTMLCanvasElement>('overlay');

let model: MultiTaskModel | null = null;
const demo: { model: MultiTaskModel | null; last: DemoResult | null; error: string | null } = { model: null, last: null, error: null };
(window as unknown as { busiDemo: typeof demo }).busiDemo = demo;

function setState(state: 'loading' | 'ready' | 'running' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  status.textContent = message;
  status.classList.toggle('error', state === 'error');
  if (state === 'error') demo.error = message;
}

/** webgl, then wasm, then cpu (or from `?backend=`): the first that initialises wins. */
async function chooseBackend(): Promise<string> {
  // The wasm binaries (plain, SIMD, threaded SIMD) lie beside index.html.
  setWasmPaths(new URL('./', location.href).href);
  const wanted = params.get('backend');
  const order = wanted ? [wanted, ...['webgl', 'wasm', 'cpu'].filter((b) => b !== wanted)] : ['webgl', 'wasm', 'cpu'];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // e.g. no WebGL context on this machine: try the next one.
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

async function loadModel(url: string): Promise<void> {
  setState('loading', `Loading ${url}…`);
  fileInput.disabled = true;
  model?.dispose();
  model = null;
  model = await MultiTaskModel.load(url);
  demo.model = model;
  const [h, w] = inputSize(model);
  fileInput.disabled = false;
  setState('ready', `Model ${model.config.name} loaded (${model.config.inChannels}-channel input, ${h}×${w}). Choose an image.`);
}

/** The model's fixed size, else `?size=` (one number or HxW), else 256×256. */
function inputSize(m: MultiTaskModel): [number, number] {
  if (m.config.inputSize) return m.config.inputSize;
  const raw = params.get('size');
  if (!raw) return [256, 256];
  const [h, w = h] = raw.split('x').map(Number);
  return [h, w];
}

/**
 * Per-channel normalisation, which must be the training data's: `?mean=a,b,c&std=d,e,f` (one value
 * for all channels or one per channel; `busi demo` trains with mean 0.3, std 0.2), else `?norm=`
 * 'unit' (pixels / 255, the default, as the synthetic set) or 'imagenet'.
 */
function normalization(channels: number): { mean: number[]; std: number[] } {
  const list = (key: string) => params.get(key)?.split(',').map(Number);
  const mean = list('mean');
  const std = list('std');
  if (mean || std) {
    const perChannel = (v: number[] | undefined, dflt: number) => Array.from({ length: channels }, (_, c) => (v ? v[Math.min(c, v.length - 1)] : dflt));
    return { mean: perChannel(mean, 0), std: perChannel(std, 1) };
  }
  if (params.get('norm') === 'imagenet') {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    return channels === 1 ? { mean: [0.449], std: [0.226] } : { mean, std };
  }
  return { mean: new Array(channels).fill(0), std: new Array(channels).fill(1) };
}

/** Decodes the file and draws it at the model's input size; returns the RGBA pixels. */
async function readImage(file: File, [h, w]: [number, number]): Promise<ImageData> {
  // No colour-space conversion: the model must see the file's own pixel values.
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const scratch = document.createElement('canvas');
  scratch.width = w;
  scratch.height = h;
  const ctx = scratch.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  return ctx.getImageData(0, 0, w, h);
}

function toInput(img: ImageData, channels: number): tf.Tensor4D {
  const { width: w, height: h, data } = img;
  const { mean, std } = normalization(channels);
  const x = new Float32Array(h * w * channels);
  for (let i = 0; i < h * w; i++) {
    const r = data[i * 4] / 255;
    const g = data[i * 4 + 1] / 255;
    const b = data[i * 4 + 2] / 255;
    if (channels === 1) x[i] = ((r + g + b) / 3 - mean[0]) / std[0];
    else {
      x[i * 3] = (r - mean[0]) / std[0];
      x[i * 3 + 1] = (g - mean[1]) / std[1];
      x[i * 3 + 2] = (b - mean[2]) / std[2];
    }
  }
  return tf.tensor4d(x, [1, h, w, channels]);
}

/** The image with the mask in red: opacity half the probability, a solid outline where it crosses 0.5. */
function drawOverlay(img: ImageData, prob: Float32Array): void {
  const { width: w, height: h } = img;
  canvas.width = w;
  canvas.height = h;
  const out = new ImageData(w, h);
  const inside = (y: number, x: number) => y >= 0 && y < h && x >= 0 && x < w && prob[y * w + x] >= 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const edge = inside(y, x) && !(inside(y - 1, x) && inside(y + 1, x) && inside(y, x - 1) && inside(y, x + 1));
      const a = edge ? 1 : 0.5 * prob[i];
      out.data[i * 4] = Math.round(img.data[i * 4] * (1 - a) + 255 * a);
      out.data[i * 4 + 1] = Math.round(img.data[i * 4 + 1] * (1 - a) + 40 * a);
      out.data[i * 4 + 2] = Math.round(img.data[i * 4 + 2] * (1 - a) + 40 * a);
      out.data[i * 4 + 3] = 255;
    }
  }
  canvas.getContext('2d')!.putImageData(out, 0, 0);
}

function showProbabilities(names: string[], probs: number[]): void {
  const body = $('probabilities').querySelector('tbody')!;
  body.replaceChildren(
    ...probs.map((p, k) => {
      const tr = document.createElement('tr');
      tr.dataset.class = names[k];
      tr.dataset.probability = String(p);
      tr.innerHTML = `<th></th><td class="p"></td><td><span class="bar"></span></td>`;
      tr.querySelector('th')!.textContent = names[k];
      tr.querySelector('td.p')!.textContent = p.toFixed(4);
      (tr.querySelector('.bar') as HTMLElement).style.width = `${Math.round(p * 160)}px`;
      return tr;
    }),
  );
}

async function run(file: File): Promise<void> {
  if (!model) return;
  const m = model;
  setState('running', `Running ${file.name}…`);
  const size = inputSize(m);
  const img = await readImage(file, size);
  const x = toInput(img, m.config.inChannels);
  const t0 = performance.now();
  const { mask, logits } = m.predict(x);
  const probsT = tf.softmax(logits);
  const maskP = tf.sigmoid(mask);
  const [probs, prob] = await Promise.all([probsT.data(), maskP.data()]);
  const ms = performance.now() - t0;
  tf.dispose([x, mask, logits, probsT, maskP]);

  const names = Array.from({ length: m.config.classes }, (_, k) => (m.config.classes === BUSI_CLASSES.length ? BUSI_CLASSES[k] : `class ${k}`));
  const p = Array.from(probs);
  const best = p.indexOf(Math.max(...p));
  drawOverlay(img, prob as Float32Array);
  showProbabilities(names, p);
  $('prediction').textContent = `${names[best]} (${(100 * p[best]).toFixed(1)} %)`;
  $('time').textContent = `${ms.toFixed(1)} ms`;
  $('time').dataset.ms = String(ms);
  demo.last = { probabilities: p, classNames: names, predicted: names[best], milliseconds: ms, backend: tf.getBackend(), size };
  setState('done', `${file.name}: ${names[best]}.`);
}

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) run(file).catch((e) => setState('error', `Could not run the model: ${(e as Error).message}`));
});
$('load').addEventListener('click', () => {
  loadModel(modelUrl.value).catch((e) => setState('error', `Could not load the model: ${(e as Error).message}`));
});

(async () => {
  try {
    $('backend').textContent = await chooseBackend();
    if (params.get('model')) modelUrl.value = params.get('model')!;
    await loadModel(modelUrl.value);
  } catch (e) {
    setState('error', `Could not start: ${(e as Error).message}`);
  }
})();
