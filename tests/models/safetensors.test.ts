/**
 * The safetensors reader: F32, F16 and BF16 widened exactly, damaged files as clear errors, and the real
 * MiniLM checkpoint read the same as Python's standard library reads it (struct + array, no numpy).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, SafetensorsError } from '../../models/safetensors.ts';
import { ALL_MINILM_L6_V2, resolveSource } from '../../models/sources.ts';

/** A file with the given header and data; the header length is deliberately not a multiple of 8. */
function file(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const bytesOf = (a: Float32Array | Uint16Array | BigInt64Array): Uint8Array => new Uint8Array(a.buffer.slice(0));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

// 1, −2, 0.5, 65504 (largest half), 2⁻²⁴ (smallest subnormal), +∞
const HALF = Uint16Array.of(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00);
// 1, −3.140625, 2⁻¹³³ (a subnormal float32)
const BFLOAT = Uint16Array.of(0x3f80, 0xc049, 0x0001);
const F32 = Float32Array.of(0.1, -7, 3.5e-8, 1e30);
const SAMPLE = file(
  {
    __metadata__: { format: 'pt' },
    w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    h: { dtype: 'F16', shape: [6], data_offsets: [16, 28] },
    b: { dtype: 'BF16', shape: [3], data_offsets: [28, 34] },
    ids: { dtype: 'I64', shape: [1, 1], data_offsets: [34, 42] },
  },
  concat(bytesOf(F32), bytesOf(HALF), bytesOf(BFLOAT), bytesOf(BigInt64Array.of(7n))),
);

describe('safetensors reader', () => {
  it('lists every tensor with its dtype and shape, and the metadata', () => {
    const st = parseSafetensors(SAMPLE);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect([...st.tensors].map(([name, t]) => [name, t.dtype, t.shape])).toEqual([
      ['w', 'F32', [2, 2]],
      ['h', 'F16', [6]],
      ['b', 'BF16', [3]],
      ['ids', 'I64', [1, 1]],
    ]);
  });

  it('reads F32 unchanged, and widens F16 and BF16 exactly (subnormals and infinity included)', () => {
    const st = parseSafetensors(SAMPLE);
    expect(st.floats('w', [2, 2])).toEqual(F32);
    expect(Array.from(st.floats('h'))).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity]);
    expect(Array.from(st.floats('b'))).toEqual([1, -3.140625, 2 ** -133]);
  });

  it.each([
    ['a truncated file', SAMPLE.subarray(0, SAMPLE.length - 1), /tensor ids ends at byte \d+, past the end of the file/],
    ['a header longer than the file', file({}, new Uint8Array()).map((v, i) => (i === 0 ? 200 : v)), /the header claims 200 bytes but the file has 10/],
    ['a header that is not JSON', file({}, new Uint8Array()).map((v, i) => (i === 8 ? 0x5b : v)), /the header is not JSON/],
    ['offsets that do not fit the shape', file({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /t \(F32 \[3\]\) needs 12 bytes, its data_offsets span 8/],
    ['an unknown dtype', file({ t: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "Q4"/],
  ])('rejects %s with a SafetensorsError naming the problem', (_label, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(SafetensorsError);
    expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(message);
  });

  it('refuses to read an integer tensor as floats, a wrong shape or a missing name', () => {
    const st = parseSafetensors(SAMPLE, 'x.safetensors');
    expect(() => st.floats('ids')).toThrow(/tensor ids is I64; only F32, F16 and BF16/);
    expect(() => st.floats('w', [4])).toThrow(/tensor w has shape \[2,2\], expected \[4\]/);
    expect(() => st.floats('nope')).toThrow(/x.safetensors: has no tensor nope/);
  });

  it("reads MiniLM's weights exactly as Python's standard library does", async () => {
    const bytes = await resolveSource(ALL_MINILM_L6_V2.weights);
    const name = 'encoder.layer.3.intermediate.dense.weight';
    const python = `
import json, struct, sys
from array import array
data = sys.stdin.buffer.read()
n = struct.unpack('<Q', data[:8])[0]
t = json.loads(data[8:8 + n])[sys.argv[1]]
a = array('f'); a.frombytes(data[8 + n + t['data_offsets'][0]:8 + n + t['data_offsets'][1]])
s = 0.0
for v in a: s += v
print(json.dumps({'shape': t['shape'], 'sum': s, 'first': a[0], 'last': a[-1], 'at': a[5 * 384 + 7]}))`;
    const expected = JSON.parse(execFileSync('python3', ['-c', python, name], { input: bytes, maxBuffer: 1 << 20 }).toString()) as Record<string, unknown>;
    const w = parseSafetensors(bytes).floats(name, [1536, 384]);
    let sum = 0;
    for (const v of w) sum += v;
    expect({ shape: [1536, 384], sum, first: w[0], last: w[w.length - 1], at: w[5 * 384 + 7] }).toEqual(expected);
  });
});
