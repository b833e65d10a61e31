/**
 * GGUF blocks re-expressed exactly in MatMulNBits' layout (block 32, value = (q − zero point) · scale)
 * at their own width, so a model that is already quantized is not quantized a second time: Q4_0 → 4 bits
 * with zero point 8, Q4_1 → 4 bits with a float zero point −min/scale, Q8_0 → 8 bits with zero point
 * 128. Requantizing SmolLM2's Q4_1 weights from float instead cost a third of its top-1 agreement.
 * (Widening 4-bit blocks to 8 would add bytes but no information, and onnxruntime's CPU kernel has no
 * 8-bit path for float zero points.)
 */
import type { NBitsWeight } from '../onnx/quantize.ts';
import { halfToFloat } from './dequantize.ts';
import type { GgufTensorInfo } from './reader.ts';

const BLOCK = 32;

/** The tensor as MatMulNBits blocks of at most `maxBits`, or null when its type cannot be expressed exactly. */
export function transcodeBlocks(t: GgufTensorInfo, raw: Uint8Array, maxBits: 4 | 8): NBitsWeight | null {
  const layout = { Q4_0: [18, 2, 4], Q4_1: [20, 4, 4], Q8_0: [34, 2, 8] }[t.typeName];
  if (!layout || t.dims.length !== 2) return null;
  const [blockBytes, quantsAt, sourceBits] = layout as [number, number, number];
  if (sourceBits > maxBits) return null;
  const bits = sourceBits as 4 | 8;
  const [k, n] = t.dims as [number, number];
  const blocks = k / BLOCK;
  const count = n * blocks;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const half = (at: number): number => halfToFloat(view.getUint16(at, true));
  const blob = (BLOCK * bits) / 8;
  const data = new Uint8Array(count * blob);
  const scales = new Float32Array(count);
  const withMin = t.typeName === 'Q4_1';
  const floatZeros = new Float32Array(count);
  for (let b = 0; b < count; b++) {
    const at = b * blockBytes;
    const d = half(at);
    scales[b] = d;
    if (withMin) {
      const m = half(at + 2);
      if (d === 0 && m !== 0) return null; // a constant block: (q − zp) · 0 cannot give m
      floatZeros[b] = d === 0 ? 0 : -m / d;
    }
    for (let i = 0; i < BLOCK; i++) {
      // ggml's 4-bit order: the 16 low nibbles are values 0..15, the 16 high nibbles values 16..31.
      const q = bits === 8 ? view.getInt8(at + quantsAt + i) + 128 : (raw[at + quantsAt + (i & 15)]! >> (i < 16 ? 0 : 4)) & 15;
      if (bits === 8) data[b * blob + i] = q;
      else data[b * blob + (i >> 1)]! |= q << ((i & 1) * 4);
    }
  }
  const fixedZero = bits === 8 ? 128 : 8;
  const zeroPoints = withMin ? floatZeros : packedZeros(n, blocks, bits, fixedZero);
  return { bits, blockSize: BLOCK, n, k, data, scales, zeroPoints };
}

function packedZeros(n: number, blocks: number, bits: 4 | 8, zero: number): Uint8Array {
  if (bits === 8) return new Uint8Array(n * blocks).fill(zero);
  const perRow = Math.ceil(blocks / 2);
  const out = new Uint8Array(n * perRow);
  for (let r = 0; r < n; r++) for (let b = 0; b < blocks; b++) out[r * perRow + (b >> 1)]! |= zero << ((b & 1) * 4);
  return out;
}
