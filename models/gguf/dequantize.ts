/**
 * Dequantizers for the ggml block formats, bit-exact with llama.cpp's reference (the `gguf` Python
 * package's numpy code): every step is a float32 operation in the same order, so each product and
 * sum is rounded to float32 (Math.fround) exactly where numpy rounds it. Block layouts: ggml-common.h.
 */
import { GGML_TYPES, GgufError, type GgufTensorInfo } from './reader.ts';

const f = Math.fround;

/**
 * Every float16 bit pattern → the bits of its float32 value (exact: float32 holds every float16;
 * kept as bits so NaN payloads survive F16 tensors as they do in numpy).
 */
const HALF_BITS = (() => {
  const table = new Uint32Array(65536);
  const one = new Float32Array(1);
  const bits = new Uint32Array(one.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 31) {
      table[h] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
      continue;
    }
    one[0] = exp === 0 ? sign * mant * 2 ** -24 : sign * (1024 + mant) * 2 ** (exp - 25);
    table[h] = bits[0]!;
  }
  return table;
})();
const HALF = new Float32Array(HALF_BITS.buffer);
export const halfToFloat = (bits: number): number => HALF[bits]!;

type BlockDecoder = (src: Uint8Array, view: DataView, at: number, out: Float32Array, o: number) => void;

const q4_0: BlockDecoder = (src, view, at, out, o) => {
  const d = HALF[view.getUint16(at, true)]!;
  for (let i = 0; i < 16; i++) {
    const b = src[at + 2 + i]!;
    out[o + i] = f(d * ((b & 15) - 8));
    out[o + i + 16] = f(d * ((b >> 4) - 8));
  }
};

const q4_1: BlockDecoder = (src, view, at, out, o) => {
  const d = HALF[view.getUint16(at, true)]!;
  const m = HALF[view.getUint16(at + 2, true)]!;
  for (let i = 0; i < 16; i++) {
    const b = src[at + 4 + i]!;
    out[o + i] = f(f(d * (b & 15)) + m);
    out[o + i + 16] = f(f(d * (b >> 4)) + m);
  }
};

/** The 32 5-bit quants of a Q5_0/Q5_1 block: low nibbles from qs, fifth bits from the u32 qh. */
function q5Quants(src: Uint8Array, view: DataView, qhAt: number, q: Int32Array): void {
  const qh = view.getUint32(qhAt, true);
  for (let i = 0; i < 16; i++) {
    const b = src[qhAt + 4 + i]!;
    q[i] = (b & 15) | (((qh >>> i) & 1) << 4);
    q[i + 16] = (b >> 4) | (((qh >>> (i + 16)) & 1) << 4);
  }
}
const q5 = new Int32Array(32);

const q5_0: BlockDecoder = (src, view, at, out, o) => {
  const d = HALF[view.getUint16(at, true)]!;
  q5Quants(src, view, at + 2, q5);
  for (let i = 0; i < 32; i++) out[o + i] = f(d * (q5[i]! - 16));
};

const q5_1: BlockDecoder = (src, view, at, out, o) => {
  const d = HALF[view.getUint16(at, true)]!;
  const m = HALF[view.getUint16(at + 2, true)]!;
  q5Quants(src, view, at + 4, q5);
  for (let i = 0; i < 32; i++) out[o + i] = f(f(d * q5[i]!) + m);
};

const q8_0: BlockDecoder = (_src, view, at, out, o) => {
  const d = HALF[view.getUint16(at, true)]!;
  for (let i = 0; i < 32; i++) out[o + i] = f(view.getInt8(at + 2 + i) * d);
};

/** K-quant 6-bit scales and mins of the 8 sub-blocks, packed in 12 bytes (ggml's get_scale_min_k4). */
function scaleMin(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j]! & 63, src[at + j + 4]! & 63];
  const md = src[at + j + 4]!;
  return [(md & 15) | ((src[at + j - 4]! >> 6) << 4), (md >> 4) | ((src[at + j]! >> 6) << 4)];
}

/** Q4_K and Q5_K: 8 sub-blocks of 32, value = d·scale·q − dmin·min; `qh` adds Q5_K's fifth bits. */
function kQuant(withHighBit: boolean): BlockDecoder {
  return (src, view, at, out, o) => {
    const d = HALF[view.getUint16(at, true)]!;
    const dmin = HALF[view.getUint16(at + 2, true)]!;
    const qhAt = at + 16;
    const qsAt = withHighBit ? at + 48 : at + 16;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMin(src, at + 4, j);
      const ds = f(d * sc);
      const dm = f(dmin * m);
      const byteAt = qsAt + (j >> 1) * 32;
      const shift = (j & 1) * 4;
      for (let i = 0; i < 32; i++) {
        let q = (src[byteAt + i]! >> shift) & 15;
        if (withHighBit) q |= ((src[qhAt + i]! >> j) & 1) << 4;
        out[o + j * 32 + i] = f(f(ds * q) - dm);
      }
    }
  };
}

/** Q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high bits in qh. */
const q6_k: BlockDecoder = (src, view, at, out, o) => {
  const d = HALF[view.getUint16(at + 208, true)]!;
  for (let r = 0; r < 8; r++) {
    const lowAt = at + (r >> 2) * 64 + (r & 1) * 32;
    const lowShift = ((r >> 1) & 1) * 4;
    const highAt = at + 128 + (r >> 2) * 32;
    const highShift = (r & 3) * 2;
    for (let i = 0; i < 32; i++) {
      const e = r * 32 + i;
      const q = (((src[lowAt + i]! >> lowShift) & 15) | (((src[highAt + i]! >> highShift) & 3) << 4)) - 32;
      const scale = f(d * view.getInt8(at + 192 + (e >> 4)));
      out[o + e] = f(scale * q);
    }
  }
};

const DECODERS: Record<string, BlockDecoder> = {
  Q4_0: q4_0,
  Q4_1: q4_1,
  Q5_0: q5_0,
  Q5_1: q5_1,
  Q8_0: q8_0,
  Q4_K: kQuant(false),
  Q5_K: kQuant(true),
  Q6_K: q6_k,
};

/** The tensor's values as float32, in ggml order (row-major over the reversed `dims`). */
export function dequantize(t: GgufTensorInfo, raw: Uint8Array): Float32Array {
  const [typeName, blockValues, blockBytes] = GGML_TYPES[t.type] ?? [];
  if (!typeName || !blockValues || !blockBytes) throw new GgufError(`tensor ${t.name}: ggml type ${t.type} is not supported`);
  if (raw.byteLength !== t.byteLength) throw new GgufError(`tensor ${t.name}: ${raw.byteLength} bytes, expected ${t.byteLength}`);
  const n = (raw.byteLength / blockBytes) * blockValues;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  switch (typeName) {
    case 'F32':
      new Uint8Array(out.buffer).set(raw);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) bits[i] = HALF_BITS[view.getUint16(i * 2, true)]!;
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
  }
  const decode = DECODERS[typeName];
  if (!decode) throw new GgufError(`tensor ${t.name}: no dequantizer for ${typeName}`);
  for (let b = 0; b < n / blockValues; b++) decode(raw, view, b * blockBytes, out, b * blockValues);
  return out;
}
