// A static server for the built demo (node:http, no dependencies): serves the build folder and,
// with --model, a saved busi model folder (model.json + weights) under /model/.
//
//   node examples/browser/serve.mjs [--dir examples/browser/dist] [--model runs/example-03/model] [--port 8080]
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
};

/** Serves `dir` (and `modelDir` under /model/) on 127.0.0.1; resolves to { url, close }. */
export function serveDemo({ dir, modelDir = null, port = 0 }) {
  const server = http.createServer((req, res) => {
    let rel;
    try {
      // Not new URL(): a path such as '//' is no URL, and a malformed one must not stop the server.
      rel = decodeURIComponent((req.url ?? '/').split(/[?#]/)[0]);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad request');
      return;
    }
    let base = dir;
    if (modelDir && rel.startsWith('/model/')) {
      base = modelDir;
      rel = rel.slice('/model'.length);
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(base, path.normalize(rel));
    // Nothing outside the served folders.
    if (!file.startsWith(path.resolve(base) + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      resolve({ url: `http://127.0.0.1:${p}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = path.resolve(opt('dir', path.join(here, 'dist')));
  if (!fs.existsSync(path.join(dir, 'main.js'))) {
    console.error(`${dir} has no main.js: run node examples/browser/build.mjs first`);
    process.exit(1);
  }
  const model = opt('model', null);
  const { url } = await serveDemo({ dir: path.resolve(dir), modelDir: model ? path.resolve(model) : null, port: Number(opt('port', 8080)) });
  console.log(`busi browser demo on ${url}${model ? '' : ' (no --model: enter a model.json URL in the page)'}`);
}
