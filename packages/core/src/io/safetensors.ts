/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}`, then the raw little-endian tensor bytes, offsets relative
 * to the start of that data region. Pure TypeScript on bytes, so it runs in node and browsers.
 */

/** Element types this module reads. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

/** Element types this module writes. */
export type SafetensorsWriteDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** Decoded storage of a tensor: F16 and BF16 are widened to float32 (exactly), BOOL to 0/1 bytes. */
export type SafetensorsData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** One tensor of a safetensors file. */
export interface SafetensorsTensor {
  /** Stored element type. */
  dtype: SafetensorsDtype;
  /** Shape, C order (row-major). */
  shape: number[];
  /** Values in C order; a fresh, aligned copy that does not alias the file bytes. */
  data: SafetensorsData;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors in the order of their data in the file. */
  tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map, or null when the file has none. */
  metadata: Record<string, string> | null;
}

/** A tensor to write. `data` must match the dtype: Float32Array (or number[]) for F32/F16/BF16, BigInt64Array for I64... */
export interface SafetensorsWriteEntry {
  /** Element type to store. Default 'F32'. */
  dtype?: SafetensorsWriteDtype;
  /** Shape, C order. */
  shape: readonly number[];
  /** Values in C order; floats are rounded to the dtype (F16/BF16: to nearest, ties to even). */
  data: ArrayLike<number> | BigInt64Array | readonly bigint[];
}

const ITEM_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// The reference implementation refuses headers above 100 MB; doing the same turns a corrupt
// length into a clear error instead of a huge allocation.
const MAX_HEADER = 100_000_000;

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

/**
 * Parses a safetensors file. Every inconsistency (truncation, bad JSON, unknown dtype, offsets
 * that overlap, leave holes or do not match the shape) is an error naming the problem.
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    fail(`header length ${n64} exceeds file size ${bytes.length} (8 + header must fit)`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> | null = null;
  const specs: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ value of '${k}' is not a string`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    if (raw === null || typeof raw !== 'object') fail(`tensor '${name}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    // Own keys only: 'constructor' or 'toString' must not pass for a dtype.
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(ITEM_SIZE, dtype)) {
      fail(`tensor '${name}': unsupported dtype ${previewJson(dtype)} (expected one of ${Object.keys(ITEM_SIZE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}': shape ${previewJson(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets ${previewJson(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLength) {
      fail(`tensor '${name}': data_offsets [${begin}, ${end}] exceed the ${dataLength}-byte data region (file truncated?)`);
    }
    const itemSize = ITEM_SIZE[dtype as SafetensorsDtype];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (numel * itemSize !== end - begin) {
      fail(`tensor '${name}': ${dtype} [${(shape as number[]).join(', ')}] needs ${numel * itemSize} bytes, data_offsets give ${end - begin}`);
    }
    specs.push({ name, dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], begin, end });
  }

  specs.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of specs) {
    if (s.begin < cursor) fail(`tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] overlap the previous tensor (ending at ${cursor})`);
    if (s.begin > cursor) fail(`tensor '${s.name}': hole in the data region between ${cursor} and ${s.begin}`);
    cursor = s.end;
  }
  if (cursor !== dataLength) fail(`the tensors cover ${cursor} bytes of the ${dataLength}-byte data region`);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const s of specs) {
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data: decode(bytes.subarray(dataStart + s.begin, dataStart + s.end), s.dtype) });
  }
  return { tensors, metadata };
}

/**
 * A short, non-recursive rendering of a JSON value for an error message: a hostile header may nest
 * arrays deeply enough to overflow the stack of JSON.stringify, or be megabytes long.
 */
export function previewJson(value: unknown, maxItems = 8): string {
  const leaf = (v: unknown): string => {
    if (v === undefined) return '(missing)';
    if (Array.isArray(v)) return '[…]';
    if (v !== null && typeof v === 'object') return '{…}';
    const text = typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v);
    return text;
  };
  if (!Array.isArray(value)) return leaf(value);
  const items = value.slice(0, maxItems).map(leaf);
  return `[${items.join(', ')}${value.length > maxItems ? `, … (${value.length} items)` : ''}]`;
}

function decode(raw: Uint8Array, dtype: SafetensorsDtype): SafetensorsData {
  const itemSize = ITEM_SIZE[dtype];
  // A copy both aligns the data and keeps the result independent of the caller's buffer. Not
  // raw.slice(): on a Node Buffer (fs.readFileSync) that is a view of the whole file.
  const copy = new Uint8Array(raw);
  if (!LITTLE_ENDIAN_HOST && itemSize > 1) swapBytes(copy, itemSize);
  const buf = copy.buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf);
    case 'F32':
      return new Float32Array(buf);
    case 'F16': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16ToNumber(h[i]);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(buf);
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return new BigInt64Array(buf);
    case 'U64':
      return new BigUint64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'U32':
      return new Uint32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'U16':
      return new Uint16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
      return copy;
    case 'BOOL':
      for (let i = 0; i < copy.length; i++) if (copy[i] > 1) fail(`BOOL tensor holds byte ${copy[i]} (only 0 and 1 are valid)`);
      return copy;
  }
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** IEEE half-precision bits to a number (exact). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** A number to IEEE half-precision bits, rounding the float32 value to nearest, ties to even. */
export function numberToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Unbiased exponent; half's normal range is [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  if (e < -25) return sign;
  // Subnormal half: value = m * 2^-24 with the implicit bit made explicit.
  const full = mant | 0x800000;
  const shift = -e - 1; // 14..24: bits dropped from the 24-bit significand to reach units of 2^-24
  const m = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  const rounded = rest > halfway || (rest === halfway && m & 1) ? m + 1 : m;
  return sign | rounded;
}

/** A number to bfloat16 bits (the upper half of its float32), rounding to nearest, ties to even. */
export function numberToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

function toBigInt64(data: SafetensorsWriteEntry['data'], numel: number, name: string): BigInt64Array {
  if (data instanceof BigInt64Array) return data;
  const out = new BigInt64Array(numel);
  for (let i = 0; i < numel; i++) {
    const v = (data as ArrayLike<number | bigint>)[i];
    if (typeof v === 'number' && !Number.isSafeInteger(v)) fail(`tensor '${name}': I64 value ${v} is not a safe integer`);
    out[i] = BigInt(v);
  }
  return out;
}

function encode(name: string, dtype: SafetensorsWriteDtype, data: SafetensorsWriteEntry['data'], numel: number): Uint8Array {
  const nums = data as ArrayLike<number>;
  let out: ArrayBufferView;
  switch (dtype) {
    case 'F64':
      out = new Float64Array(nums);
      break;
    case 'F32':
      out = data instanceof Float32Array ? data : new Float32Array(nums);
      break;
    case 'F16': {
      const h = new Uint16Array(numel);
      for (let i = 0; i < numel; i++) h[i] = numberToF16(+nums[i]);
      out = h;
      break;
    }
    case 'BF16': {
      const h = new Uint16Array(numel);
      for (let i = 0; i < numel; i++) h[i] = numberToBf16(+nums[i]);
      out = h;
      break;
    }
    case 'I64':
      out = toBigInt64(data, numel, name);
      break;
    case 'I32':
      out = data instanceof Int32Array ? data : new Int32Array(nums);
      break;
    case 'U8':
      out = new Uint8Array(nums);
      break;
    case 'BOOL':
      out = new Uint8Array(numel);
      for (let i = 0; i < numel; i++) (out as Uint8Array)[i] = nums[i] ? 1 : 0;
      break;
    default:
      fail(`tensor '${name}': cannot write dtype ${String(dtype)}`);
  }
  const b = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  if (!LITTLE_ENDIAN_HOST && ITEM_SIZE[dtype] > 1) {
    const copy = b.slice();
    swapBytes(copy, ITEM_SIZE[dtype]);
    return copy;
  }
  return b;
}

/**
 * Serialises tensors as safetensors. Tensors are laid out by item size (largest first), then by
 * name, so every tensor is aligned to its item size; the header is padded with spaces to a
 * multiple of 8 bytes, as the format recommends.
 *
 * @param entries name → tensor, as a Map (or object / entry list) in any order.
 * @param metadata optional `__metadata__` (string values only).
 */
export function writeSafetensors(
  entries: Map<string, SafetensorsWriteEntry> | Record<string, SafetensorsWriteEntry> | Iterable<[string, SafetensorsWriteEntry]>,
  metadata?: Record<string, string> | null,
): Uint8Array {
  const list: [string, SafetensorsWriteEntry][] =
    entries instanceof Map ? [...entries] : Symbol.iterator in (entries as object) ? [...(entries as Iterable<[string, SafetensorsWriteEntry]>)] : Object.entries(entries as Record<string, SafetensorsWriteEntry>);
  const seen = new Set<string>();
  const prepared = list.map(([name, e]) => {
    if (name === '__metadata__') fail("'__metadata__' is reserved and cannot name a tensor");
    if (seen.has(name)) fail(`tensor '${name}' given twice`);
    seen.add(name);
    const dtype = e.dtype ?? 'F32';
    if (!(dtype in ITEM_SIZE)) fail(`tensor '${name}': cannot write dtype ${String(dtype)}`);
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': invalid shape [${e.shape.join(', ')}]`);
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (e.data.length !== numel) fail(`tensor '${name}': shape [${e.shape.join(', ')}] holds ${numel} values, data has ${e.data.length}`);
    return { name, dtype, shape: [...e.shape], bytes: encode(name, dtype, e.data, numel) };
  });
  prepared.sort((a, b) => ITEM_SIZE[b.dtype] - ITEM_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(`metadata value of '${k}' is not a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const p of prepared) {
    header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + p.bytes.length] };
    offset += p.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const p of prepared) {
    out.set(p.bytes, pos);
    pos += p.bytes.length;
  }
  return out;
}
