import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors, numberToF16, f16ToNumber, numberToBf16 } from '../../src/io/safetensors';

const FORMAT = path.resolve(__dirname, '../../../../fixtures/parity/format');

function hexBits(data: ArrayLike<number> | BigInt64Array, dtype: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (dtype === 'F32') out.push(new Uint32Array(Float32Array.of(v as number).buffer)[0].toString(16).padStart(8, '0'));
    else if (dtype === 'F16') out.push(numberToF16(v as number).toString(16).padStart(4, '0'));
    else if (dtype === 'BF16') out.push(numberToBf16(v as number).toString(16).padStart(4, '0'));
    else out.push(BigInt.asUintN(64, v as bigint).toString(16).padStart(16, '0'));
  }
  return out;
}

describe('readSafetensors on a file written by another implementation', () => {
  const bytes = new Uint8Array(fs.readFileSync(path.join(FORMAT, 'dtypes.safetensors')));
  const expected = JSON.parse(fs.readFileSync(path.join(FORMAT, 'dtypes.json'), 'utf8'));
  const file = readSafetensors(bytes);

  test('metadata and tensor order', () => {
    expect(file.metadata).toEqual(expected.metadata);
    // data order: sorted by item size, then name
    expect([...file.tensors.keys()]).toEqual(['d', 'a', 'b', 'c']);
  });

  test.each(['a', 'b', 'c', 'd'])('tensor %s: dtype, shape, exact values and bits', (name) => {
    const t = file.tensors.get(name)!;
    const e = expected.tensors[name];
    expect(t.dtype).toBe(e.dtype);
    expect(t.shape).toEqual(e.shape);
    const values = (e.values as unknown[]).flat(4) as number[];
    if (e.dtype === 'I64') {
      expect(t.data).toBeInstanceOf(BigInt64Array);
      expect([...(t.data as BigInt64Array)]).toEqual(values.map((v) => BigInt(v)));
    } else {
      expect(t.data).toBeInstanceOf(Float32Array);
      const got = [...(t.data as Float32Array)];
      for (let i = 0; i < values.length; i++) expect(Object.is(got[i], values[i])).toBe(true); // -0 included
    }
    expect(hexBits(t.data as Float32Array, e.dtype)).toEqual((e.bits as unknown[]).flat(4));
  });

  test('encoders reproduce the stored bits from the source values (F16/BF16 rounding incl. ties and subnormals)', () => {
    for (const name of ['b', 'c']) {
      const e = expected.tensors[name];
      expect(hexBits((e.source as number[]).flat(), e.dtype)).toEqual(e.bits);
    }
  });

  test('writing the same tensors reproduces the file byte for byte', () => {
    const entries = new Map<string, { dtype: 'F32' | 'F16' | 'BF16' | 'I64'; shape: number[]; data: Float32Array | BigInt64Array }>();
    for (const [name, t] of file.tensors) entries.set(name, { dtype: t.dtype as 'F32', shape: t.shape, data: t.data as Float32Array });
    const out = writeSafetensors(entries, file.metadata);
    // Key order inside the JSON may differ from Python's; compare the parsed header and the data.
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(out.length).toBe(bytes.length);
    expect(Buffer.from(out.subarray(8 + n))).toEqual(Buffer.from(bytes.subarray(8 + n)));
    const hdr = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
    expect(hdr(out)).toEqual(hdr(bytes));
  });
});

describe('writeSafetensors round trips', () => {
  test('all writable dtypes, alignment and padding', () => {
    const f = Float32Array.from([0.1, -2.5, 3.25, 4e-8, -0, 65504, 1e6, NaN]);
    const bytes = writeSafetensors(
      {
        x32: { shape: [2, 4], data: f },
        x16: { dtype: 'F16', shape: [8], data: f },
        xb16: { dtype: 'BF16', shape: [4, 2], data: f },
        x64: { dtype: 'F64', shape: [2], data: [Math.PI, -1e300] },
        i64: { dtype: 'I64', shape: [3], data: [0, -(2 ** 53) + 1, 42] },
        i32: { dtype: 'I32', shape: [1, 2], data: Int32Array.of(-7, 2 ** 31 - 1) },
        u8: { dtype: 'U8', shape: [3], data: [0, 255, 7] },
        flag: { dtype: 'BOOL', shape: [2], data: [1, 0] },
        empty: { shape: [0, 3], data: new Float32Array(0) },
        scalar: { shape: [], data: [5] },
      },
      { format: 'pt', note: 'ü' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const r = readSafetensors(bytes);
    expect(r.metadata).toEqual({ format: 'pt', note: 'ü' });
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    for (const [name, t] of r.tensors) {
      const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 }[t.dtype as 'F32'];
      expect(header[name].data_offsets[0] % size).toBe(0);
    }
    expect([...(r.tensors.get('x32')!.data as Float32Array)].slice(0, 7)).toEqual([...f].slice(0, 7));
    expect(Number.isNaN(r.tensors.get('x32')!.data[7] as number)).toBe(true);
    const h = r.tensors.get('x16')!.data as Float32Array;
    expect([...h].slice(0, 7)).toEqual([0.0999755859375, -2.5, 3.25, 5.960464477539063e-8, -0, 65504, Infinity]);
    expect(Object.is(h[4], -0)).toBe(true);
    expect(Number.isNaN(h[7])).toBe(true);
    const b = r.tensors.get('xb16')!.data as Float32Array;
    expect(b[0]).toBe(0.10009765625);
    expect(b[6]).toBe(999424);
    expect(Number.isNaN(b[7])).toBe(true);
    expect(r.tensors.get('xb16')!.shape).toEqual([4, 2]);
    expect([...(r.tensors.get('x64')!.data as Float64Array)]).toEqual([Math.PI, -1e300]);
    expect([...(r.tensors.get('i64')!.data as BigInt64Array)]).toEqual([0n, -(2n ** 53n) + 1n, 42n]);
    expect([...(r.tensors.get('i32')!.data as Int32Array)]).toEqual([-7, 2 ** 31 - 1]);
    expect([...(r.tensors.get('u8')!.data as Uint8Array)]).toEqual([0, 255, 7]);
    expect([...(r.tensors.get('flag')!.data as Uint8Array)]).toEqual([1, 0]);
    expect(r.tensors.get('empty')!.shape).toEqual([0, 3]);
    expect(r.tensors.get('scalar')!.shape).toEqual([]);
    expect([...(r.tensors.get('scalar')!.data as Float32Array)]).toEqual([5]);
  });

  test('reading from a Uint8Array view at an odd offset', () => {
    const bytes = writeSafetensors({ w: { shape: [3], data: [1, 2, 3] } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const r = readSafetensors(big.subarray(3));
    expect([...(r.tensors.get('w')!.data as Float32Array)]).toEqual([1, 2, 3]);
    expect(r.metadata).toBeNull();
  });

  test('a Node Buffer (whose slice() is a view) decodes into independent, aligned arrays', () => {
    const bytes = writeSafetensors({ a: { shape: [2], data: [1, 2] }, b: { dtype: 'F64', shape: [1], data: [3] } });
    const buf = Buffer.concat([Buffer.alloc(1), Buffer.from(bytes)]).subarray(1);
    const r = readSafetensors(buf);
    const a = r.tensors.get('a')!.data as Float32Array;
    expect([...a]).toEqual([1, 2]);
    expect(a.buffer.byteLength).toBe(8);
    buf.fill(0);
    expect([...a]).toEqual([1, 2]);
    expect([...(r.tensors.get('b')!.data as Float64Array)]).toEqual([3]);
  });

  test('f16 helpers agree on every finite half', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16ToNumber(h);
      if (Number.isNaN(v)) continue;
      expect(numberToF16(v)).toBe(h);
    }
  });

  test('writer errors', () => {
    expect(() => writeSafetensors({ a: { shape: [2, 2], data: [1, 2, 3] } })).toThrow(/holds 4 values, data has 3/);
    expect(() => writeSafetensors({ __metadata__: { shape: [1], data: [1] } })).toThrow(/reserved/);
    expect(() => writeSafetensors({ a: { shape: [1], data: [1] } }, { k: 3 as unknown as string })).toThrow(/not a string/);
    expect(() => writeSafetensors({ a: { dtype: 'I64', shape: [1], data: [0.5] } })).toThrow(/not a safe integer/);
  });
});

describe('readSafetensors errors name the problem', () => {
  const good = writeSafetensors({ a: { shape: [2], data: [1, 2] }, b: { shape: [1], data: [3] } });
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  function withHeader(h: unknown, data = new Uint8Array(12)): Uint8Array {
    const json = new TextEncoder().encode(typeof h === 'string' ? h : JSON.stringify(h));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  }
  test.each<[string, () => Uint8Array, RegExp]>([
    ['short file', () => new Uint8Array(5), /5 bytes, too short/],
    ['truncated header', () => good.subarray(0, 8 + n - 4), new RegExp(`header length ${n} exceeds file size ${n + 4}`)],
    ['truncated data', () => good.subarray(0, good.length - 2), /exceed the 10-byte data region \(file truncated\?\)/],
    ['trailing bytes', () => Uint8Array.from([...good, 0, 0, 0, 0]), /cover 12 bytes of the 16-byte data region/],
    ['bad json', () => withHeader('{"a": '), /not valid JSON/],
    ['not an object', () => withHeader('[1, 2]'), /not a JSON object/],
    ['unknown dtype', () => withHeader({ a: { dtype: 'F8', shape: [3], data_offsets: [0, 3] } }), /'a': unsupported dtype "F8"/],
    ['bad shape', () => withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 12] } }), /shape \[-1\]/],
    ['size mismatch', () => withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } }), /needs 8 bytes, data_offsets give 12/],
    [
      'overlap',
      () => withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }),
      /overlap/,
    ],
    ['hole', () => withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }), /hole in the data region between 0 and 4/],
    ['metadata values', () => withHeader({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__ value of 'k' is not a string/],
    // Own keys only: these used to pass an `in` check against the dtype table.
    ['dtype constructor', () => withHeader({ a: { dtype: 'constructor', shape: [3], data_offsets: [0, 12] } }), /'a': unsupported dtype "constructor" \(expected one of F64/],
    ['dtype toString', () => withHeader({ a: { dtype: 'toString', shape: [3], data_offsets: [0, 12] } }), /unsupported dtype "toString"/],
    // A shape nested 100,000 deep overflowed the stack of the error message itself.
    ['deeply nested shape', () => withHeader(`{"a": {"dtype": "F32", "shape": ${'['.repeat(100000)}${']'.repeat(100000)}, "data_offsets": [0, 12]}}`), /'a': shape \[\[…\]\] is not a list of non-negative integers/],
    ['huge length', () => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true); return b; }, /header length 1152921504606846976 exceeds file size 16/],
  ])('%s', (_what, make, message) => {
    expect(() => readSafetensors(make())).toThrow(message);
  });
});
