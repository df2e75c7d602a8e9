import * as fs from 'node:fs';
import * as path from 'node:path';
import { parityFill, parityFillRule, parityInputs } from '../../src/parity/fill';
import { Rng, fnv1a32 } from '../../src/random/rng';
import { readSafetensors } from '../../src/io/safetensors';

const FIX = path.resolve(__dirname, '../../../../fixtures/parity');

interface CheckEntry {
  name: string;
  salt: string;
  shape: number[];
  rule: string;
  seed: number;
  u32_first4: number[];
  first8_f32_hex: string[];
  sum: number;
}

const check = JSON.parse(fs.readFileSync(path.join(FIX, 'fill-check.json'), 'utf8'));
const entries: CheckEntry[] = [...check.entries, ...(check.salted_entries ?? [])];

const hex = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)].map((b) => b.toString(16).padStart(8, '0'));

test('fill-check covers salted and unsalted entries', () => {
  expect(entries.length).toBeGreaterThanOrEqual(15);
  expect(entries.some((e) => e.salt !== '')).toBe(true);
});

test.each(entries.map((e) => [`${e.salt}|${e.name}`, e] as const))('%s: seed, generator, rule, first8 bits, sum', (_k, e) => {
  expect(fnv1a32(e.salt + e.name)).toBe(e.seed);
  const rng = new Rng(e.seed);
  expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual(e.u32_first4);
  expect(parityFillRule(e.name, e.shape)).toBe(e.rule);
  const values = parityFill(e.name, e.shape, e.salt);
  expect(values.length).toBe(e.shape.reduce((a, b) => a * b, 1));
  expect(hex(values.subarray(0, 8))).toEqual(e.first8_f32_hex);
  let sum = 0;
  for (const v of values) sum += v;
  expect(sum).toBe(e.sum);
});

test('fnv1a32 of the empty string and non-ASCII names hashes UTF-8 bytes', () => {
  expect(fnv1a32('')).toBe(2166136261);
  // 'é' is two UTF-8 bytes; hashing UTF-16 code units would give a different value.
  let h = 2166136261;
  for (const b of [0xc3, 0xa9]) h = Number((BigInt(h ^ b) * 16777619n) % 2n ** 32n);
  expect(fnv1a32('é')).toBe(h);
});

test('parityInputs reproduces inputs.safetensors bit for bit', () => {
  const ref = readSafetensors(new Uint8Array(fs.readFileSync(path.join(FIX, 'inputs.safetensors')))).tensors;
  const meta = JSON.parse(fs.readFileSync(path.join(FIX, 'inputs.json'), 'utf8'));
  const ours = parityInputs(meta.input_shape, meta.salt);
  const pairs = [
    ['input', ours.input],
    ['grad.mask', ours.gradMask],
    ['grad.label', ours.gradLabel],
  ] as const;
  for (const [name, arr] of pairs) {
    const r = ref.get(name)!;
    expect(arr.shape).toEqual(r.shape);
    const a = new Uint32Array(arr.data.buffer);
    const b = new Uint32Array((r.data as Float32Array).buffer);
    let diff = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
    expect({ name, diff }).toEqual({ name, diff: 0 });
  }
});

test('parityInputs: other shapes, salt changes cotangents, bad shapes rejected', () => {
  const a = parityInputs([1, 1, 2, 3]);
  expect(a.input.data[4]).toBe(Math.fround(Math.sin(0.05 * 1 + 0.07 * 1)));
  expect(a.gradMask.shape).toEqual([1, 1, 2, 3]);
  expect(a.gradLabel.shape).toEqual([1, 3]);
  const b = parityInputs([1, 1, 2, 3], 'x', { classes: 5, maskChannels: 2 });
  expect(b.gradLabel.shape).toEqual([1, 5]);
  expect(b.gradMask.shape).toEqual([1, 2, 2, 3]);
  expect(b.gradMask.data[0]).not.toBe(a.gradMask.data[0]);
  expect(() => parityInputs([2, 3, 96])).toThrow(/NCHW/);
});
