/**
 * The in-browser demo (examples/browser) end to end: builds it, saves a small model, serves both on
 * 127.0.0.1, drives Debian's chromium with playwright-core through the file input, and checks the
 * displayed class probabilities against the same model run in Node and the overlay's pixels; then
 * the default flow with the shipped model, on an image of another size, against `busi predict`; and
 * the same model exported to ONNX, run by ONNX Runtime Web in the page.
 * Skipped (with a message) when /usr/bin/chromium is absent.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { BUSI_CLASSES, MultiTaskModel, applyParityFill, createModelCard, preprocessToTensor, resizePixels, syntheticSample } from '@busi/core';
import '@busi/backbones';
import '@busi/decoders';
import { fileSystem, initBackend, toUint8, writePng } from '@busi/node';
import { decodeImage } from '@busi/data';
import { exportOnnx } from '@busi/onnx';
import { cli } from './commands/helpers';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const root = path.resolve(__dirname, '..', '..', '..');
const SIZE = 64;

if (!hasChromium) {
  // eslint-disable-next-line no-console
  console.warn(`examples-browser.test: skipped, ${CHROMIUM} not found (apt-get install -y chromium)`);
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** Serves `site` at / and `modelDir` at /test-model/ on a random port (the site's own /model/ is the shipped one). */
function serve(site: string, modelDir: string): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    let rel: string;
    try {
      rel = decodeURIComponent((req.url ?? '/').split(/[?#]/)[0]);
    } catch {
      res.writeHead(400).end();
      return;
    }
    let base = site;
    if (rel.startsWith('/test-model/')) {
      base = modelDir;
      rel = rel.slice('/test-model'.length);
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(base, path.normalize(rel));
    if (!file.startsWith(base + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server })),
  );
}

(hasChromium ? describe : describe.skip)('examples/browser demo in chromium', () => {
  let tmp: string;
  let imageFile: string;
  let imageBytes: Uint8Array;
  /** Node's results for the page's default normalisation (pixels / 255) and for ?mean=0.3&std=0.2. */
  const reference: Record<string, { probs: number[]; mask: Float32Array }> = {};
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busi-browser-test-'));
    const site = path.join(tmp, 'site');
    const build = spawnSync(process.execPath, [path.join(root, 'examples', 'browser', 'build.mjs'), site], { encoding: 'utf8', timeout: 120_000 });
    if (build.status !== 0) throw new Error(`build.mjs failed:\n${build.stdout}\n${build.stderr}`);

    await initBackend({ backend: 'cpu', log: false });
    const model = new MultiTaskModel({ encoder: 'resnet18', decoder: { name: 'unet', decoderChannels: [32, 16, 16, 8, 8] } });
    // Deterministic weights (the parity fill, keyed by PyTorch name), so the checks below see the
    // same mask every run. Its mask logits hug 0 (probability ≈ 0.5 everywhere); spreading them gives
    // the overlay a clear inside, outside and outline to check.
    applyParityFill(model);
    const scaleLayer = (name: string, factor: number) => {
      const layer = model.model.getLayer(name);
      const scaled = tf.tidy(() => layer.getWeights().map((w) => tf.mul(w, factor)));
      layer.setWeights(scaled);
      tf.dispose(scaled);
    };
    scaleLayer('segmentation_head.0', 40);

    const sample = syntheticSample({ size: SIZE, label: 1, seed: 5 });
    imageBytes = toUint8(sample.image);
    imageFile = path.join(tmp, 'lesion.png');
    await writePng(imageFile, { data: imageBytes, height: SIZE, width: SIZE, channels: 3 });
    // The filled classifier's logits are far apart (probabilities 1/0/0); scale them to a spread of
    // about 1 so that the compared probabilities are not all saturated.
    const probe = tf.tensor4d(Float32Array.from(imageBytes, (v) => v / 255), [1, SIZE, SIZE, 3]);
    const probeOut = model.predict(probe);
    const logits = Array.from(await probeOut.logits.data());
    tf.dispose([probe, probeOut.mask, probeOut.logits]);
    scaleLayer('classification_head.3', 1 / (Math.max(...logits) - Math.min(...logits)));
    // The page reads size and normalisation from the card: 64×64, pixels / 255.
    model.setCard(createModelCard({ preprocessing: { size: [SIZE, SIZE], channels: 3, resize: 'bilinear', normalization: { mean: [0, 0, 0], std: [1, 1, 1] } }, classNames: [...BUSI_CLASSES] }));
    await model.save(fileSystem(path.join(tmp, 'model')));
    // The page feeds the model the file's 8-bit pixels, normalised: the same input here.
    for (const [key, mean, std] of [['unit', 0, 1], ['custom', 0.3, 0.2]] as const) {
      const x = tf.tensor4d(Float32Array.from(imageBytes, (v) => (v / 255 - mean) / std), [1, SIZE, SIZE, 3]);
      const out = model.predict(x);
      reference[key] = { probs: Array.from(await tf.softmax(out.logits).data()), mask: (await tf.sigmoid(out.mask).data()) as Float32Array };
      tf.dispose([x, out.mask, out.logits]);
    }
    model.dispose();

    ({ url, server } = await serve(site, path.join(tmp, 'model')));
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // Default order and the card's normalisation (webgl first: SwiftShader in headless chromium), then
  // wasm forced, which needs the .wasm binaries served beside the page, with a URL normalisation
  // that contradicts the card (used, with a warning).
  test.each([
    ['default', '', 'unit'],
    ['wasm', '&backend=wasm&mean=0.3&std=0.2', 'custom'],
  ])('%s backend: loads the saved model, runs a chosen image, shows probabilities, time and the overlay', async (which, query, norm) => {
    const { probs: nodeProbs, mask: nodeMask } = reference[norm];
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const logs: string[] = [];
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(`${url}?model=./test-model/model.json${query}`);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 180_000 });
      expect(await page.textContent('#status')).toContain('loaded');
      if (norm === 'custom') expect(await page.textContent('#status')).toContain("from the URL differs from the model card's mean [0, 0, 0] std [1, 1, 1]");
      else expect(await page.textContent('#status')).not.toContain('differs');

      await page.setInputFiles('#image', imageFile);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 180_000 });
      expect(await page.getAttribute('body', 'data-state')).toBe('done');

      const rows = await page.$$eval('#probabilities tr', (trs) =>
        trs.map((tr) => ({ name: (tr as HTMLElement).dataset.class, p: Number((tr as HTMLElement).dataset.probability), text: tr.querySelector('td.p')!.textContent })),
      );
      expect(rows.map((r) => r.name)).toEqual(['benign', 'malignant', 'normal']);
      const shown = rows.map((r) => r.p);
      expect(shown.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      // The four-decimal text the user sees and the Node run agree.
      rows.forEach((r, k) => expect(Math.abs(Number(r.text) - nodeProbs[k])).toBeLessThan(2e-4));
      shown.forEach((p, k) => expect(Math.abs(p - nodeProbs[k])).toBeLessThan(1e-4));
      // Not saturated: the comparison above means something.
      expect(Math.max(...nodeProbs)).toBeLessThan(0.9);
      const predicted = await page.textContent('#prediction');
      expect(predicted).toContain(['benign', 'malignant', 'normal'][nodeProbs.indexOf(Math.max(...nodeProbs))]);
      const ms = Number(await page.getAttribute('#time', 'data-ms'));
      expect(ms).toBeGreaterThan(0);
      const backend = await page.textContent('#backend');
      if (which === 'wasm') expect(backend).toBe('wasm');
      else expect(['webgl', 'wasm', 'cpu']).toContain(backend);

      // The overlay: the image blended with red by half the mask probability, outline at 0.5.
      const pixels = await page.$eval('#overlay', (c) => {
        const canvas = c as HTMLCanvasElement;
        return { w: canvas.width, h: canvas.height, data: Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data) };
      });
      expect([pixels.h, pixels.w]).toEqual([SIZE, SIZE]);
      // Expected from Node's mask: the blend, and solid red on the outline of the p ≥ 0.5 region.
      const inside = (y: number, x: number) => y >= 0 && y < SIZE && x >= 0 && x < SIZE && nodeMask[y * SIZE + x] >= 0.5;
      let close = 0;
      let compared = 0;
      let visible = 0;
      let visibleClose = 0;
      let outline = 0;
      for (let y = 0; y < SIZE; y++) {
        for (let x = 0; x < SIZE; x++) {
          const i = y * SIZE + x;
          const got = pixels.data.slice(i * 4, i * 4 + 3);
          // Pixels next to a probability at 0.5 may fall either side between backends.
          const near = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]].some(([dy, dx]) => {
            const yy = y + dy;
            const xx = x + dx;
            return yy >= 0 && yy < SIZE && xx >= 0 && xx < SIZE && Math.abs(nodeMask[yy * SIZE + xx] - 0.5) < 1e-3;
          });
          if (near) continue;
          compared++;
          const edge = inside(y, x) && !(inside(y - 1, x) && inside(y + 1, x) && inside(y, x - 1) && inside(y, x + 1));
          if (edge) outline++;
          const a = edge ? 1 : 0.5 * nodeMask[i];
          const want = [imageBytes[i * 3] * (1 - a) + 255 * a, imageBytes[i * 3 + 1] * (1 - a) + 40 * a, imageBytes[i * 3 + 2] * (1 - a) + 40 * a];
          const ok = got.every((v, k) => Math.abs(v - want[k]) <= 2);
          if (ok) close++;
          // Pixels where the overlay must differ clearly from the plain image: proof it was drawn.
          if (want.some((v, k) => Math.abs(v - imageBytes[i * 3 + k]) > 10)) {
            visible++;
            if (ok) visibleClose++;
          }
        }
      }
      expect(compared).toBeGreaterThan(0.9 * SIZE * SIZE);
      expect(close / compared).toBeGreaterThan(0.99);
      expect(visible).toBeGreaterThan(0.1 * SIZE * SIZE);
      expect(visibleClose / visible).toBeGreaterThan(0.99);
      expect(outline).toBeGreaterThan(0);
      // eslint-disable-next-line no-console
      console.info(`overlay: ${compared} pixels compared, ${visible} visibly tinted, ${outline} on the outline`);
      // eslint-disable-next-line no-console
      console.info(`browser demo: backend ${backend}, ${ms.toFixed(1)} ms, probabilities ${shown.map((p) => p.toFixed(4)).join(' ')}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\npage console:\n${logs.join('\n')}`);
    } finally {
      await context.close();
    }
  });

  /**
   * The shipped model on a 96×80 synthetic benign scan with its truth mask, in Node: `busi predict`'s
   * probabilities and the mask probabilities at the card's 64×64 from the same preprocessing. The
   * page, with tfjs or with the exported ONNX file, must give the same.
   */
  const shippedDir = path.join(root, 'examples', 'browser', 'model');
  let shippedRef: Promise<{ file: string; scan: ReturnType<typeof syntheticSample>; nodeProbs: number[]; nodeMask: number[]; threshold: number }> | undefined;
  const shippedReference = () =>
    (shippedRef ??= (async () => {
      const scan = syntheticSample({ size: [80, 96], label: 0, seed: 11 });
      const file = path.join(tmp, 'benign-96x80.png');
      await writePng(file, { data: toUint8(scan.image), height: 80, width: 96, channels: 3 });
      const predicted = await cli(['predict', file, '--model', shippedDir, '-o', path.join(tmp, 'pred'), '--json', '--backend', 'cpu'], tmp);
      expect(predicted.err).toBe('');
      const nodeProbs = Object.values(JSON.parse(predicted.out.slice(predicted.out.indexOf('[')))[0].probabilities) as number[];
      const model = await MultiTaskModel.load(fileSystem(shippedDir));
      const card = model.card!;
      expect(card.preprocessing.size).toEqual([64, 64]);
      const x = preprocessToTensor(await decodeImage(file), card.preprocessing);
      const out = model.predict(x);
      const nodeMask = Array.from(await tf.sigmoid(out.mask).data());
      tf.dispose([x, out.mask, out.logits]);
      // The same model as busi export writes it, for the ONNX Runtime Web test.
      fs.writeFileSync(path.join(tmp, 'model', 'shipped.onnx'), exportOnnx(model).bytes);
      model.dispose();
      return { file, scan, nodeProbs, nodeMask, threshold: card.maskThreshold };
    })());

  /** Opens the page at `query`, runs `file` through the file input, returns the page's result. */
  async function runInPage(query: string, file: string, profile: string): Promise<{ last: { probabilities: number[]; mask: number[]; notes: string[]; backend: string }; status: string }> {
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(path.join(tmp, profile), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const logs: string[] = [];
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(`${url}${query}`);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 180_000 });
      const status = (await page.textContent('#status')) ?? '';
      await page.setInputFiles('#image', file);
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 180_000 });
      expect(await page.getAttribute('body', 'data-state')).toBe('done');
      const last = await page.evaluate(() => (window as unknown as { busiDemo: { last: { probabilities: number[]; mask: number[]; notes: string[]; backend: string } } }).busiDemo.last);
      return { last, status };
    } catch (e) {
      throw new Error(`${(e as Error).message}\npage console:\n${logs.join('\n')}`);
    } finally {
      await context.close();
    }
  }

  test('the default flow: the shipped model, an image of another size, the same probabilities as busi predict and a real mask', async () => {
    const { file, scan, nodeProbs, nodeMask, threshold } = await shippedReference();
    const { last, status } = await runInPage('', file, 'profile-default');
    expect(status).toContain('3-channel input, 64×64');
    expect(last.notes).toEqual([]);
    last.probabilities.forEach((p, k) => expect(Math.abs(p - nodeProbs[k])).toBeLessThan(1e-4));
    const worst = last.mask.reduce((m, p, i) => Math.max(m, Math.abs(p - nodeMask[i])), 0);
    expect(worst).toBeLessThan(1e-4);
    // A trained model: the mask at the threshold overlaps the lesion's truth (resized alike).
    const truth = resizePixels({ data: Uint8Array.from(scan.mask), height: 80, width: 96, channels: 1 }, [64, 64], 'nearest').data;
    let tp = 0;
    let pred = 0;
    let pos = 0;
    last.mask.forEach((p, i) => {
      const on = p >= threshold;
      if (on) pred++;
      if (truth[i]) pos++;
      if (on && truth[i]) tp++;
    });
    const dice = (2 * tp) / (pred + pos);
    // eslint-disable-next-line no-console
    console.info(`shipped model in the browser: probabilities ${last.probabilities.map((p) => p.toFixed(4)).join(' ')}, mask Dice ${dice.toFixed(3)}, max |browser - node| ${worst.toExponential(2)}`);
    expect(pos).toBeGreaterThan(0);
    expect(dice).toBeGreaterThan(0.6);
  });

  test('an exported ONNX model runs in ONNX Runtime Web with the same results as busi', async () => {
    const { file, nodeProbs, nodeMask } = await shippedReference();
    // Headless chromium without a GPU has no WebGPU adapter: the page takes the wasm execution provider.
    const { last, status } = await runInPage('?model=./test-model/shipped.onnx', file, 'profile-onnx');
    expect(status).toContain('(ONNX) loaded (3-channel input, 64×64)');
    expect(last.backend).toBe('onnxruntime-web wasm');
    expect(last.notes).toEqual([]);
    last.probabilities.forEach((p, k) => expect(Math.abs(p - nodeProbs[k])).toBeLessThan(1e-4));
    const worst = last.mask.reduce((m, p, i) => Math.max(m, Math.abs(p - nodeMask[i])), 0);
    expect(worst).toBeLessThan(1e-4);
    // eslint-disable-next-line no-console
    console.info(`ONNX model in the browser: probabilities ${last.probabilities.map((p) => p.toFixed(4)).join(' ')}, max |browser - node| ${worst.toExponential(2)}`);
  });
});
