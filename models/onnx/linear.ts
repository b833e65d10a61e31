/**
 * Linear layers y = x · Wᵀ for weights stored [out, in]: fp32 MatMul, 8-bit DynamicQuantizeMatMul or
 * 4-bit MatMulNBits (both com.microsoft). Shared by every graph the converter builds.
 */
import type { GraphBuilder } from './graph.ts';
import { quantizeNBits } from './quantize.ts';

export type WeightDtype = 'fp32' | 'q8' | 'q4';

/** File names follow the transformers.js dtype convention. */
export const DTYPE_FILES: Record<WeightDtype, string> = {
  fp32: 'model.onnx',
  q8: 'model_quantized.onnx',
  q4: 'model_q4.onnx',
};

export const BITS: Record<WeightDtype, 4 | 8 | null> = { fp32: null, q8: 8, q4: 4 };
export const QUANT_BLOCK_SIZE = 32;
/**
 * 8-bit weights use 7 bits of range. DynamicQuantizeMatMul multiplies uint8 activations by int8 weights;
 * x86 CPUs without VNNI (AVX2's vpmaddubsw) sum adjacent products into int16 with saturation, and
 * 255·127·2 overflows it: q8 then came out worse than q4. With |w| ≤ 63, 255·63·2 = 32130 fits, so every
 * kernel (AVX2, VNNI, AVX-512, WASM SIMD and relaxed SIMD's i7 dot product) computes the same exact sums.
 */
export const INT8_WEIGHT_MAX = 63;
/** How each dtype stores linear weights, as the manifest states it. */
export const QUANTIZATION: Record<WeightDtype, string> = {
  fp32: 'none',
  q8: `int8 in [-${INT8_WEIGHT_MAX}, ${INT8_WEIGHT_MAX}], symmetric per output channel (DynamicQuantizeMatMul)`,
  q4: `uint4, asymmetric per block of ${QUANT_BLOCK_SIZE} (MatMulNBits)`,
};
export const MS = 'com.microsoft';

export interface LinearOptions {
  /** Name of the result (default: generated from `name`). */
  output?: string;
}

/**
 * Adds `x · weightᵀ` for `weight` [n, k] and returns the output name and the bytes its weights take
 * in the file. fp32 weights are stored transposed ([k, n]) for a plain MatMul. 8-bit weights are
 * symmetric 7-bit-range int8 per output channel for DynamicQuantizeMatMul (activations quantized per call):
 * its integer GEMM has a WASM SIMD kernel, where MatMulNBits' 8-bit path has none and ran 5× slower
 * than llama.cpp's Q8_0. 4-bit weights are block-wise MatMulNBits, which is fast in WASM as it is.
 */
export function linear(g: GraphBuilder, name: string, x: string, weight: Float32Array, n: number, k: number, bits: 4 | 8 | null, opts: LinearOptions = {}): { y: string; weightBytes: number } {
  const before = g.initializerBytes;
  const outputs = opts.output ? [opts.output] : 1;
  let y: string;
  if (bits === null) {
    const wt = g.initializer(`${name}.weight`, 'float32', [k, n], transpose(weight, n, k));
    y = g.node('MatMul', name, [x, wt], outputs)[0]!;
  } else if (bits === 8) {
    const { data, scales } = quantizeInt8PerRow(weight, n, k);
    const b = g.initializer(`${name}.weight_int8`, 'int8', [k, n], transpose(data, n, k));
    const sc = g.initializer(`${name}.scales`, 'float32', [n], scales);
    y = g.node('DynamicQuantizeMatMul', name, [x, b, sc], outputs, {}, MS)[0]!;
  } else {
    const q = quantizeNBits(weight, n, k, bits, QUANT_BLOCK_SIZE);
    const blocks = Math.ceil(k / QUANT_BLOCK_SIZE);
    const b = g.initializer(`${name}.weight_q`, 'uint8', [n, blocks, (QUANT_BLOCK_SIZE * bits) / 8], q.data);
    const sc = g.initializer(`${name}.scales`, 'float32', [n * blocks], q.scales);
    const zp = g.initializer(`${name}.zero_points`, 'uint8', [q.zeroPoints.length], q.zeroPoints);
    y = g.node('MatMulNBits', name, [x, b, sc, zp], outputs, { K: k, N: n, bits, block_size: QUANT_BLOCK_SIZE }, MS)[0]!;
  }
  return { y, weightBytes: g.initializerBytes - before };
}

/** Symmetric int8 per row of `w` [n, k]: q = round(w / scale), scale = max|row| / INT8_WEIGHT_MAX. */
function quantizeInt8PerRow(w: Float32Array, n: number, k: number): { data: Int8Array; scales: Float32Array } {
  const data = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, Math.abs(w[r * k + c]!));
    const scale = max > 0 ? max / INT8_WEIGHT_MAX : 1;
    scales[r] = scale;
    for (let c = 0; c < k; c++) data[r * k + c] = Math.round(w[r * k + c]! / scale);
  }
  return { data, scales };
}

/** [rows, cols] → [cols, rows], for weights of any element type. */
function transpose<T extends Float32Array | Int8Array>(w: T, rows: number, cols: number): T {
  const out = new (w.constructor as new (length: number) => T)(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}
