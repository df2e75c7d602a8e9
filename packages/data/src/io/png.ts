import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { convertChannels, resizePixels, type PixelImage } from '@busi/core';

/** A decoded 8-bit image, row-major HWC (@busi/core's `PixelImage`). */
export type RawImage = PixelImage;

/** Options of {@link readPng}. */
export interface ReadPngOptions {
  /**
   * Output channels: 1 (gray: the mean of R, G, B, exact for gray files), 3 (RGB; gray replicated),
   * 4 (RGBA; opaque alpha added), or 'auto' (the file's own: 1 for gray, 3 for RGB, 4 with alpha).
   * Alpha is dropped for 1 and 3. Default 'auto'.
   */
  channels?: 1 | 3 | 4 | 'auto';
  /** Resize to [height, width] after decoding. Default: keep the size. */
  resize?: [number, number];
  /** Interpolation for `resize`: 'nearest' (for masks) or 'bilinear'. Default 'bilinear'. */
  interpolation?: 'nearest' | 'bilinear';
}

/**
 * Reads a PNG (or any format sharp decodes: 1/8-bit gray, RGB, RGBA, palette) into 8-bit pixels.
 * Errors name the file and say why (missing, corrupt, truncated).
 */
export async function readPng(file: string, options: ReadPngOptions = {}): Promise<RawImage> {
  const img = await decodeImage(file);
  let out = convertChannels(img, options.channels ?? 'auto');
  if (options.resize) out = await resizeRaw(out, options.resize, options.interpolation ?? 'bilinear');
  return out;
}

/** Decodes a file at its own size with its own channel count (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). */
export async function decodeImage(file: string): Promise<RawImage> {
  let input: Buffer;
  try {
    input = await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `image file not found: '${file}'` : `cannot read image '${file}': ${(e as Error).message}`);
  }
  if (input.length === 0) throw new Error(`corrupt image '${file}': the file is empty`);
  try {
    // failOn 'truncated' makes a cut-off PNG an error rather than a silently grey-padded image.
    const s = sharp(input, { failOn: 'truncated' });
    const meta = await s.metadata();
    const gray = meta.channels === 1 || meta.channels === 2;
    // sharp promotes gray to sRGB on raw output; asking for b-w keeps gray files one channel, losslessly.
    const pipeline = gray ? s.toColourspace('b-w') : s.toColourspace('srgb');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width, channels: info.channels };
  } catch (e) {
    throw new Error(`corrupt or truncated image '${file}': ${(e as Error).message}`);
  }
}

// Channel conversion and resizing are @busi/core's (the browser runs the same code); re-exported for Node callers.
export { convertChannels } from '@busi/core';

/** Resizes raw pixels to [height, width] with @busi/core's `resizePixels` (stretching; BUSI images are fitted to the model size). */
export async function resizeRaw(img: RawImage, size: [number, number], interpolation: 'nearest' | 'bilinear' = 'bilinear'): Promise<RawImage> {
  return resizePixels(img, size, interpolation);
}

// sharp's typings omit PNG `bitdepth`, which libvips honours for gray images.
type PngOptions = Parameters<ReturnType<typeof sharp>['png']>[0];

/** Options of {@link writePng}. */
export interface WritePngOptions {
  /** Write a 1-bit PNG (for binary masks: any non-zero pixel is white). Needs 1 channel. Default false. */
  oneBit?: boolean;
}

/** Writes 8-bit pixels (1, 2, 3 or 4 channels) as a PNG, creating the folder. */
export async function writePng(file: string, img: RawImage, options: WritePngOptions = {}): Promise<void> {
  const { data, height, width, channels } = img;
  if (data.length !== height * width * channels) {
    throw new Error(`writePng '${file}': ${data.length} bytes do not match ${height}x${width}x${channels}`);
  }
  if (options.oneBit && channels !== 1) throw new Error(`writePng '${file}': a 1-bit PNG needs 1 channel, got ${channels}`);
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const pixels = options.oneBit ? data.map((v) => (v ? 255 : 0)) : data;
  let encoder = sharp(pixels, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
  // sharp would otherwise store one- and two-channel input as sRGB.
  if (channels <= 2) encoder = encoder.toColourspace('b-w');
  await encoder.png(options.oneBit ? ({ bitdepth: 1, compressionLevel: 9 } as PngOptions) : { compressionLevel: 6 }).toFile(file);
}

/**
 * Converts float pixels to 8-bit: `values` are scaled from `[lo, hi]` to [0, 255] and clamped.
 * Default range [0, 1].
 */
export function toUint8(values: ArrayLike<number>, lo = 0, hi = 1): Uint8Array {
  const out = new Uint8Array(values.length);
  const scale = 255 / (hi - lo);
  for (let i = 0; i < values.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((values[i] - lo) * scale)));
  return out;
}
