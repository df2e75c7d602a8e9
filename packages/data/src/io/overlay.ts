import { convertChannels, writePng, type RawImage } from './png';

/** An RGB colour, 0..255 each. */
export type Rgb = [number, number, number];

/** Options of {@link renderOverlay}. */
export interface OverlayOptions {
  /** Mask values above this are lesion (masks may be probabilities). Default 0.5. */
  threshold?: number;
  /** Colour of the (predicted) mask. Default red [255, 60, 60]. */
  color?: Rgb;
  /** Opacity of the mask fill, 0 for contour only. Default 0.3. */
  fillAlpha?: number;
  /** Draw the mask's outline at full opacity. Default true. */
  contour?: boolean;
  /** A second (ground-truth) mask of the same size, drawn as a contour in `groundTruthColor`. */
  groundTruth?: ArrayLike<number>;
  /** Colour of the ground-truth contour. Default green [60, 230, 60]. */
  groundTruthColor?: Rgb;
}

/**
 * Draws a mask over an image: a translucent fill and an outline in colour, optionally with a
 * ground-truth outline in a second colour. `mask` is `height * width` values (binary or probabilities)
 * matching the image's size. Returns RGB pixels.
 */
export function renderOverlay(image: RawImage, mask: ArrayLike<number>, options: OverlayOptions = {}): RawImage {
  const { height: h, width: w } = image;
  if (mask.length !== h * w) throw new Error(`renderOverlay: mask has ${mask.length} values, the image is ${h}x${w} (${h * w})`);
  if (options.groundTruth && options.groundTruth.length !== h * w) {
    throw new Error(`renderOverlay: groundTruth has ${options.groundTruth.length} values, the image is ${h}x${w}`);
  }
  const threshold = options.threshold ?? 0.5;
  const color = options.color ?? [255, 60, 60];
  const alpha = options.fillAlpha ?? 0.3;
  const rgb = convertChannels(image, 3);
  const out = new Uint8Array(rgb.data);
  const inside = binarize(mask, threshold);
  if (alpha > 0) {
    for (let i = 0; i < h * w; i++) {
      if (!inside[i]) continue;
      for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(out[i * 3 + k] * (1 - alpha) + color[k] * alpha);
    }
  }
  if (options.contour ?? true) paint(out, contour(inside, h, w), color);
  if (options.groundTruth) paint(out, contour(binarize(options.groundTruth, 0.5), h, w), options.groundTruthColor ?? [60, 230, 60]);
  return { data: out, height: h, width: w, channels: 3 };
}

/** {@link renderOverlay} written to a PNG file. */
export async function writeOverlayPng(file: string, image: RawImage, mask: ArrayLike<number>, options: OverlayOptions = {}): Promise<void> {
  await writePng(file, renderOverlay(image, mask, options));
}

/** Lays images of equal height side by side (e.g. input | prediction | ground truth), with a gap. */
export function hstack(images: RawImage[], gap = 4): RawImage {
  if (images.length === 0) throw new Error('hstack: no images');
  const h = images[0].height;
  if (images.some((im) => im.height !== h)) throw new Error('hstack: images must share one height');
  const rgbs = images.map((im) => convertChannels(im, 3));
  const w = rgbs.reduce((s, im) => s + im.width, 0) + gap * (images.length - 1);
  const out = new Uint8Array(h * w * 3);
  let x0 = 0;
  for (const im of rgbs) {
    for (let y = 0; y < h; y++) out.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * w + x0) * 3);
    x0 += im.width + gap;
  }
  return { data: out, height: h, width: w, channels: 3 };
}

function binarize(mask: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] > threshold ? 1 : 0;
  return out;
}

/** Mask pixels with a 4-neighbour outside the mask (or on the image border). */
export function contour(inside: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!inside[i]) continue;
      if (y === 0 || y === h - 1 || x === 0 || x === w - 1 || !inside[i - 1] || !inside[i + 1] || !inside[i - w] || !inside[i + w]) out[i] = 1;
    }
  }
  return out;
}

function paint(rgb: Uint8Array, where: Uint8Array, color: Rgb): void {
  for (let i = 0; i < where.length; i++) if (where[i]) rgb.set(color, i * 3);
}
