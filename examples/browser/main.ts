// The in-browser demo: loads a saved busi model from a URL, runs an ultrasound image chosen with the
// file input, and shows the predicted mask over the image, the class probabilities and the time.
// A URL ending in .onnx (a `busi export` file) runs in ONNX Runtime Web instead of TensorFlow.js
// (WebGPU where the browser has it, else WebAssembly).
// Built by build.mjs (esbuild); the tfjs and ONNX Runtime wasm binaries are served beside the page.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-cpu';
// Registers the 'webgpu' backend only where the browser has navigator.gpu.
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  MultiTaskModel,
  assumedModelCard,
  describeAssumedCard,
  preprocessToTensor,
  resizeForModel,
  resolveNormalization,
  type ModelCard,
  type Normalization,
  type PixelImage,
  type PreprocessingSpec,
} from '@busi/core';
import { readOnnxModelInfo } from '@busi/onnx';
import * as ort from 'onnxruntime-web';
// busi's WGSL grouped/dilated conv kernels and the software-adapter test: plain tfjs, no Node imports.
import { registerWebGpuKernels } from '../../packages/kernels/src/webgpu/register';
import { isSoftwareAdapter, type GpuAdapterLike } from '../../packages/kernels/src/webgpu/software-adapter';

/** What the page shows after a run; also exposed as `window.busiDemo.last` for tests. */
export interface DemoResult {
  probabilities: number[];
  classNames: string[];
  /** Mask probabilities at the model's input size, row-major. */
  mask: number[];
  /** Share of pixels at or above the mask threshold. */
  lesionFraction: number;
  /** Warnings about how the image was fed (no card, URL overrides). */
  notes: string[];
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

/** A loaded model, whichever runtime runs it: busi's tfjs model or an exported ONNX file. */
interface Runner {
  /** Shown in the status line. */
  name: string;
  /** The model card (null: none, busi's assumptions apply). */
  card: ModelCard | null;
  /** What busi assumes for this model without a card. */
  assumedCard(): ModelCard;
  /** Runtime and backend, as shown. */
  backend: string;
  /** Class and mask logits of one preprocessed image `[1, H, W, C]` (mask row-major H×W). */
  run(x: tf.Tensor4D): Promise<{ logits: Float32Array; mask: Float32Array }>;
  dispose(): Promise<void>;
}

function tfjsRunner(m: MultiTaskModel): Runner {
  return {
    name: m.config.name,
    card: m.card,
    assumedCard: () => assumedModelCard(m.config),
    backend: backendLabel ?? tf.getBackend(),
    async run(x) {
      const { mask, logits } = m.predict(x);
      const [l, k] = await Promise.all([logits.data(), mask.data()]);
      tf.dispose([mask, logits]);
      return { logits: l as Float32Array, mask: k as Float32Array };
    },
    dispose: async () => m.dispose(),
  };
}

/** ONNX Runtime Web on WebGPU when the browser offers an adapter (or `?ep=webgpu`), else on wasm (`?ep=wasm`). */
async function onnxRunner(url: string): Promise<Runner> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const info = readOnnxModelInfo(bytes);
  // The runtime's .wasm lies beside index.html (its JavaScript glue is in this bundle: naming only
  // the .wasm keeps it from fetching the glue too); without cross-origin isolation it runs one thread.
  ort.env.wasm.wasmPaths = { wasm: new URL('./ort-wasm-simd-threaded.jsep.wasm', location.href).href };
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const wanted = params.get('ep');
  const webgpu = wanted === 'webgpu' || (wanted !== 'wasm' && !!gpu && !!(await gpu.requestAdapter().catch(() => null)));
  const ep = webgpu ? 'webgpu' : 'wasm';
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep] });
  const config = info.metadata['busi.config'] ? (JSON.parse(info.metadata['busi.config']) as MultiTaskModel['config']) : null;
  return {
    name: `${config?.name ?? url} (ONNX)`,
    card: info.card,
    assumedCard: () => assumedModelCard(config ?? { inChannels: 3, classes: 3, inputSize: null }),
    backend: `onnxruntime-web ${ep}`,
    async run(x) {
      const [n, h, w, c] = x.shape;
      const t = info.layout === 'NCHW' ? tf.transpose(x, [0, 3, 1, 2]) : tf.clone(x);
      const data = (await t.data()) as Float32Array;
      t.dispose();
      const dims = info.layout === 'NCHW' ? [n, c, h, w] : [n, h, w, c];
      const out = await session.run({ image: new ort.Tensor('float32', data, dims) });
      // One mask channel: NCHW and NHWC hold it in the same order.
      return { logits: (await out.class_logits.getData()) as Float32Array, mask: (await out.mask_logits.getData()) as Float32Array };
    },
    dispose: () => session.release(),
  };
}

let model: Runner | null = null;
const demo: { model: Runner | null; last: DemoResult | null; error: string | null } = { model: null, last: null, error: null };
(window as unknown as { busiDemo: typeof demo }).busiDemo = demo;

function setState(state: 'loading' | 'ready' | 'running' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  status.textContent = message;
  status.classList.toggle('error', state === 'error');
  if (state === 'error') demo.error = message;
}

/** What {@link chooseBackend} chose, as shown (webgpu with its adapter). */
let backendLabel: string | null = null;

/** The browser's WebGPU adapter as `vendor/architecture`, with whether it is a software one; null without WebGPU. */
async function webGpuAdapter(): Promise<{ label: string; software: boolean } | null> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> } }).gpu;
  const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (adapter == null) return null;
  const info = adapter.info ?? {};
  return { label: [info.vendor || 'unknown vendor', info.architecture || info.description].filter(Boolean).join('/'), software: isSoftwareAdapter(adapter) };
}

/**
 * webgpu on a hardware adapter, then webgl, wasm and cpu (or `?backend=` first, where webgpu may
 * also be a software one): the first that initialises wins. Shown as the name, with the adapter for webgpu.
 */
async function chooseBackend(): Promise<string> {
  // The wasm binaries (plain, SIMD, threaded SIMD) lie beside index.html.
  setWasmPaths(new URL('./', location.href).href);
  registerWebGpuKernels();
  const wanted = params.get('backend');
  const adapter = await webGpuAdapter();
  const automatic = [...(adapter != null && !adapter.software ? ['webgpu'] : []), 'webgl', 'wasm', 'cpu'];
  const order = wanted ? [wanted, ...automatic.filter((b) => b !== wanted)] : automatic;
  for (const name of order) {
    try {
      if (name === 'webgpu' && adapter == null) continue;
      if (await tf.setBackend(name)) {
        await tf.ready();
        backendLabel = name === 'webgpu' ? `webgpu (${adapter!.label}${adapter!.software ? ', software' : ''})` : name;
        return backendLabel;
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
  await model?.dispose();
  model = null;
  model = /\.onnx([?#]|$)/i.test(url) ? await onnxRunner(url) : tfjsRunner(await MultiTaskModel.load(url));
  demo.model = model;
  $('backend').textContent = model.backend;
  const { spec, notes } = settingsFor(model);
  const [h, w] = spec.size;
  fileInput.disabled = false;
  for (const n of notes) console.warn(n);
  setState('ready', `Model ${model.name} loaded (${spec.channels}-channel input, ${h}×${w}). Choose an image.${notes.length ? ` ${notes.join(' ')}` : ''}`);
}

/**
 * How this page feeds the loaded model: its model card (size, channels, normalisation, classes,
 * mask threshold), so the page and `busi predict` agree. A URL parameter (`?size=64` or `64x48`,
 * `?mean=a,b,c&std=d,e,f`, `?norm=imagenet|unit`, `?threshold=`) overrides it, with a warning when
 * it contradicts the card; a model without a card gets busi's assumptions, said on the page.
 */
function settingsFor(m: Runner): { spec: PreprocessingSpec; classNames: string[]; threshold: number; notes: string[] } {
  const notes: string[] = [];
  let card = m.card;
  if (!card) {
    card = m.assumedCard();
    notes.push(`This model has no model card (saved by an older busi): assuming ${describeAssumedCard(card)}.`);
  }
  const spec = card.preprocessing;
  const channels = spec.channels;
  const override = (what: string, shown: string, cardValue: string) => {
    if (m.card && shown !== cardValue) notes.push(`${what} ${shown} from the URL differs from the model card's ${cardValue}: the results may be wrong.`);
  };
  const size = params.get('size');
  if (size) {
    const [h, w = h] = size.split('x').map(Number);
    override('size', `${h}x${w}`, `${spec.size[0]}x${spec.size[1]}`);
    spec.size = [h, w];
  }
  const list = (key: string) => params.get(key)?.split(',').map(Number);
  const mean = list('mean');
  const std = list('std');
  let norm: Normalization | null = null;
  if (mean || std) {
    const perChannel = (v: number[] | undefined, dflt: number) => Array.from({ length: channels }, (_, c) => (v ? v[Math.min(c, v.length - 1)] : dflt));
    norm = { mean: perChannel(mean, 0), std: perChannel(std, 1) };
  } else if (params.get('norm')) norm = resolveNormalization(params.get('norm') === 'imagenet' ? 'imagenet' : 'unit', channels);
  if (norm) {
    override('normalisation', `mean [${norm.mean.join(', ')}] std [${norm.std.join(', ')}]`, `mean [${spec.normalization.mean.join(', ')}] std [${spec.normalization.std.join(', ')}]`);
    spec.normalization = norm;
  }
  let threshold = card.maskThreshold;
  if (params.get('threshold')) {
    override('threshold', params.get('threshold')!, String(threshold));
    threshold = Number(params.get('threshold'));
  }
  return { spec, classNames: card.classNames, threshold, notes };
}

/** Decodes the file at its own size, unaltered (no colour-space conversion, no premultiplied alpha). */
async function decodeFile(file: File): Promise<PixelImage> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const scratch = document.createElement('canvas');
  scratch.width = bitmap.width;
  scratch.height = bitmap.height;
  const ctx = scratch.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data, width, height } = ctx.getImageData(0, 0, scratch.width, scratch.height);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height, width, channels: 4 };
}

/** The image with the mask in red: opacity half the probability, a solid outline where it crosses the threshold. */
function drawOverlay(img: PixelImage, prob: Float32Array, threshold: number): void {
  const { width: w, height: h } = img;
  canvas.width = w;
  canvas.height = h;
  const out = new ImageData(w, h);
  const inside = (y: number, x: number) => y >= 0 && y < h && x >= 0 && x < w && prob[y * w + x] >= threshold;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const edge = inside(y, x) && !(inside(y - 1, x) && inside(y + 1, x) && inside(y, x - 1) && inside(y, x + 1));
      const a = edge ? 1 : 0.5 * prob[i];
      const c = img.channels;
      const px = (k: number) => img.data[i * c + (c < 3 ? 0 : k)];
      out.data[i * 4] = Math.round(px(0) * (1 - a) + 255 * a);
      out.data[i * 4 + 1] = Math.round(px(1) * (1 - a) + 40 * a);
      out.data[i * 4 + 2] = Math.round(px(2) * (1 - a) + 40 * a);
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
  const { spec, classNames: names, threshold, notes } = settingsFor(m);
  const decoded = await decodeFile(file);
  // @busi/core's preprocessing, as in training and busi predict: channels, resize, normalise.
  const x = preprocessToTensor(decoded, spec);
  const t0 = performance.now();
  const { mask, logits } = await m.run(x);
  const ms = performance.now() - t0;
  x.dispose();
  const top = Math.max(...logits);
  const exp = Array.from(logits, (l) => Math.exp(l - top));
  const total = exp.reduce((a, b) => a + b, 0);
  const probs = exp.map((e) => e / total);
  const prob = Float32Array.from(mask, (l) => 1 / (1 + Math.exp(-l)));

  const p = Array.from(probs);
  const best = p.indexOf(Math.max(...p));
  drawOverlay(resizeForModel(decoded, { size: spec.size, channels: 3 }), prob as Float32Array, threshold);
  showProbabilities(names, p);
  let lesion = 0;
  for (const v of prob) if (v >= threshold) lesion++;
  $('prediction').textContent = `${names[best]} (${(100 * p[best]).toFixed(1)} %)`;
  $('time').textContent = `${ms.toFixed(1)} ms`;
  $('time').dataset.ms = String(ms);
  demo.last = {
    probabilities: p,
    classNames: names,
    predicted: names[best],
    milliseconds: ms,
    backend: m.backend,
    size: spec.size,
    mask: Array.from(prob),
    lesionFraction: lesion / prob.length,
    notes,
  };
  setState('done', `${file.name}: ${names[best]}.${notes.length ? ` ${notes.join(' ')}` : ''}`);
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
