// Validates near-duplicate detection on synthetic copies of real BUSI images and counts what it
// finds in the whole dataset. Usage (from the repo root, with ../shared/busi present):
//   node packages/node/bench/run.mjs packages/node/bench/near-duplicates.ts [--originals=120] [--seed=1] [--montage=DIR]
// Prints markdown tables (the figures in docs/evaluation.md) and writes .bench/near-duplicates.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '@busi/core';
import {
  detectNearDuplicates,
  decodeImage,
  convertChannels,
  fingerprint,
  findNearDuplicates,
  formatNearDuplicateReport,
  groupSizeCounts,
  hammingDistance,
  readBusiFolder,
  verifyPair,
  writePng,
  type RawImage,
} from '@busi/node';

const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const root = process.cwd(); // run from the repo root
const busiDir = path.resolve(root, '../shared/busi/Dataset_BUSI_with_GT');
const originals = Number(arg('originals', '120'));
const seed = Number(arg('seed', '1'));
const montageDir = arg('montage', '');

type Transform = { name: string; apply: (img: RawImage, rng: () => number) => Promise<RawImage> };

async function fromSharp(s: ReturnType<typeof sharp>): Promise<RawImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), height: info.height, width: info.width, channels: info.channels };
}
const raw = (img: RawImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 } });

async function resize(img: RawImage, rng: () => number): Promise<RawImage> {
  const f = 0.5 + 0.3 * rng();
  return fromSharp(raw(img).resize(Math.round(img.width * f), Math.round(img.height * f)));
}
async function jpeg(img: RawImage, quality = 50): Promise<RawImage> {
  return fromSharp(sharp(await raw(img).jpeg({ quality }).toBuffer()));
}
async function crop(img: RawImage, rng: () => number, lo = 0.02, hi = 0.06): Promise<RawImage> {
  const side = () => lo + (hi - lo) * rng();
  const [t, b, l, r] = [side(), side(), side(), side()].map((f, i) => Math.round(f * (i < 2 ? img.height : img.width)));
  return fromSharp(raw(img).extract({ top: t, left: l, height: img.height - t - b, width: img.width - l - r }));
}
/** Caliper marks as ultrasound machines draw them: 2–4 crosses and a dotted line between two, white or yellow. */
async function calipers(img: RawImage, rng: () => number): Promise<RawImage> {
  const out = { ...img, data: Uint8Array.from(img.data) };
  const colour = rng() < 0.5 ? [255, 255, 255] : [255, 230, 40];
  const dot = (y: number, x: number) => {
    if (y < 0 || x < 0 || y >= img.height || x >= img.width) return;
    for (let k = 0; k < 3; k++) out.data[(y * img.width + x) * 3 + k] = colour[k];
  };
  const arm = Math.max(4, Math.round(img.width / 60));
  const marks = Array.from({ length: 2 + Math.floor(rng() * 3) }, () => [Math.round(img.height * (0.25 + 0.5 * rng())), Math.round(img.width * (0.2 + 0.6 * rng()))]);
  for (const [y, x] of marks) for (let d = -arm; d <= arm; d++) (dot(y + d, x), dot(y, x + d), dot(y + d, x + 1), dot(y + 1, x + d));
  const [[y0, x0], [y1, x1]] = marks;
  const steps = Math.max(Math.abs(y1 - y0), Math.abs(x1 - x0));
  for (let s = 0; s <= steps; s += 6) (dot(Math.round(y0 + ((y1 - y0) * s) / steps), Math.round(x0 + ((x1 - x0) * s) / steps)), dot(Math.round(y0 + ((y1 - y0) * s) / steps), Math.round(x0 + ((x1 - x0) * s) / steps) + 1));
  return out;
}

const TRANSFORMS: Transform[] = [
  { name: 'resize 50–80 %', apply: resize },
  { name: 'JPEG quality 50', apply: (img) => jpeg(img, 50) },
  { name: 'crop 2–6 % per side', apply: (img, rng) => crop(img, rng) },
  { name: 'calipers drawn', apply: calipers },
  { name: 'all four', apply: async (img, rng) => jpeg(await resize(await calipers(await crop(img, rng, 0.02, 0.05), rng), rng), 70) },
];

async function main(): Promise<void> {
  if (!fs.existsSync(busiDir)) {
    console.log(`near-duplicate validation skipped: ${busiDir} not found`);
    return;
  }
  const index = readBusiFolder(busiDir);
  const t0 = Date.now();
  const full = await findNearDuplicates(index);
  const scanSeconds = (Date.now() - t0) / 1000;
  const groupIndex = new Map<string, string>(index.entries.map((e, i) => [e.id, full.groupOf[i]]));

  // Synthetic set: `originals` images drawn at random, each with one copy per transformation.
  const rng = mulberry32(seed);
  const pool = index.entries.map((_, i) => i);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const chosen = pool.slice(0, originals);
  const fps: ReturnType<typeof fingerprint>[] = [];
  const family: number[] = [];
  const kind: number[] = [];
  const source: number[] = [];
  for (const [f, e] of chosen.entries()) {
    const img = convertChannels(await decodeImage(index.entries[e].imagePath), 3);
    fps.push(fingerprint(img));
    family.push(f);
    kind.push(-1);
    source.push(e);
    for (const [t, tr] of TRANSFORMS.entries()) {
      const copy = await tr.apply(img, rng);
      if (montageDir && f < 3) await writePng(path.join(montageDir, `copy-${f}-${t}.png`), copy);
      fps.push(fingerprint(copy));
      family.push(f);
      kind.push(t);
      source.push(e);
    }
  }
  const t1 = Date.now();
  const found = detectNearDuplicates(fps);
  const detectSeconds = (Date.now() - t1) / 1000;
  const groupOf = new Array<number>(fps.length).fill(-1);
  found.groups.forEach((g, k) => g.forEach((i) => (groupOf[i] = k)));
  const origOf = (f: number) => family.indexOf(f);
  const rows: string[] = [];
  const perTransform = TRANSFORMS.map((tr, t) => {
    let grouped = 0;
    let paired = 0;
    const dists: number[] = [];
    const sims: number[] = [];
    for (let i = 0; i < fps.length; i++) {
      if (kind[i] !== t) continue;
      const o = origOf(family[i]);
      if (groupOf[i] >= 0 && groupOf[i] === groupOf[o]) grouped++;
      if (found.pairs.some((p) => (p.a === o && p.b === i) || (p.a === i && p.b === o))) paired++;
      dists.push(hammingDistance(fps[o].hash, fps[i].hash));
      sims.push(verifyPair(fps[o], fps[i]).similarity);
    }
    dists.sort((a, b) => a - b);
    sims.sort((a, b) => a - b);
    const q = (v: number[], p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
    rows.push(`| ${tr.name} | ${grouped}/${originals} (${((100 * grouped) / originals).toFixed(1)} %) | ${paired}/${originals} | ${q(dists, 0.5)} / ${q(dists, 0.95)} / ${dists[dists.length - 1]} | ${sims[0].toFixed(2)} / ${q(sims, 0.05).toFixed(2)} / ${q(sims, 0.5).toFixed(2)} |`);
    return { name: tr.name, grouped, paired, hashDistances: dists, similarities: sims };
  });
  // Precision: a verified pair is right when both images come from one original, or from two
  // originals that the full-dataset scan puts in one group (BUSI's own duplicates).
  let right = 0;
  let busiOwn = 0;
  const wrong: string[] = [];
  for (const p of found.pairs) {
    if (family[p.a] === family[p.b]) right++;
    else if (groupIndex.get(index.entries[source[p.a]].id) === groupIndex.get(index.entries[source[p.b]].id)) busiOwn++;
    else wrong.push(`${index.entries[source[p.a]].id} ~ ${index.entries[source[p.b]].id} (${p.similarity.toFixed(2)})`);
  }
  console.log(`## Synthetic copies (${originals} random BUSI images × ${TRANSFORMS.length} transformations, seed ${seed})\n`);
  console.log('| transformation | recall (grouped with its original) | direct pair | hash distance median / p95 / max | similarity min / p5 / median |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  const precision = (right + busiOwn) / Math.max(1, found.pairs.length);
  console.log(`\n${found.pairs.length} verified pairs: ${right} within a family, ${busiOwn} between originals that are BUSI duplicates, ${wrong.length} wrong → precision ${(100 * precision).toFixed(1)} %${wrong.length ? `; wrong: ${wrong.join('; ')}` : ''}`);
  console.log(`${found.candidates} candidate pairs verified in ${detectSeconds.toFixed(1)} s (shared CPU; indicative)`);

  console.log(`\n## Whole BUSI (${full.images} images; scan ${scanSeconds.toFixed(1)} s on a shared CPU)\n`);
  const sizes = groupSizeCounts(full.groups);
  console.log(`groups by size: ${Object.entries(sizes).map(([s, c]) => `${c} × ${s}`).join(', ')}`);
  console.log(formatNearDuplicateReport(full).split('\ngroups:')[0]);
  const out = path.join(root, '.bench', 'near-duplicates.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ originals, seed, perTransform, pairs: found.pairs.length, right, busiOwn, wrong, full }, null, 1));
  if (montageDir) await writeMontages(full, index, montageDir);
  console.log(`\nwrote ${path.relative(root, out)}`);
}

/** Side-by-side PNGs of each group (for a visual check of what was found). */
async function writeMontages(full: Awaited<ReturnType<typeof findNearDuplicates>>, index: ReturnType<typeof readBusiFolder>, dir: string): Promise<void> {
  const byId = new Map(index.entries.map((e) => [e.id, e]));
  for (const [k, g] of full.groups.entries()) {
    const tiles = await Promise.all(
      g.ids.map(async (id) => sharp(byId.get(id)!.imagePath).resize(200, 160, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer()),
    );
    const w = 200 * tiles.length;
    const data = new Uint8Array(w * 160 * 3);
    tiles.forEach((t, j) => {
      for (let y = 0; y < 160; y++) data.set(t.subarray(y * 600, (y + 1) * 600), (y * w + j * 200) * 3);
    });
    const minSim = Math.min(...g.links.map((l) => l.similarity));
    await writePng(path.join(dir, `group-${String(k).padStart(3, '0')}-${minSim.toFixed(2)}.png`), { data, height: 160, width: w, channels: 3 });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
