/**
 * Linear layers y = x · Wᵀ (+ b) for weights stored [out, in], as fp32 MatMul or as ONNX Runtime's
 * com.microsoft MatMulNBits with block-wise 8- or 4-bit weights. Shared by every graph the converter builds.
 */
import type { GraphBuilder } from './graph.ts';
import { quantizeNBits, type NBitsWeight } from './quantize.ts';

export type WeightDtype = 'fp32' | 'q8' | 'q4';

/** File names follow the transformers.js dtype convention. */
export const DTYPE_FILES: Record<WeightDtype, string> = {
  fp32: 'model.onnx',
  q8: 'model_quantized.onnx',
  q4: 'model_q4.onnx',
};

export const BITS: Record<WeightDtype, 4 | 8 | null> = { fp32: null, q8: 8, q4: 4 };
export const QUANT_BLOCK_SIZE = 32;
/** How each dtype stores linear weights, as the manifest states it. */
export const QUANTIZATION: Record<WeightDtype, string> = {
  fp32: 'none',
  q8: 'int8, symmetric per output channel (DynamicQuantizeMatMul)',
  q4: `uint4, asymmetric per block of ${QUANT_BLOCK_SIZE} (MatMulNBits)`,
};
export const MS = 'com.microsoft';

export interface LinearOptions {
  /** Name of the result (default: generated from `name`). */
  output?: string;
  /**
   * 8-bit weights through MatMulNBits (block-wise; activations stay float) instead of DynamicQuantizeMatMul,
   * for models whose activations have outliers that per-tensor activation quantization loses (Gemma).
   */
  weightOnly8?: boolean;
}

/**
 * Adds `x · weightᵀ` for `weight` [n, k] and returns the output name and the bytes its weights take
 * in the file. fp32 weights are stored transposed ([k, n]) for a plain MatMul. 8-bit weights are
 * symmetric int8 per output channel for DynamicQuantizeMatMul (the activations are quantized per call):
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
  } else if (bits === 8 && !opts.weightOnly8) {
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
    y = matMulNBits(g, name, x, { b, scales: sc, zeroPoints: zp }, q, outputs);
  }
  return { y, weightBytes: g.initializerBytes - before };
}

/** Names of the initializers (or tensors) holding a block-quantized weight in MatMulNBits' layout. */
export interface NBitsTensors {
  b: string;
  scales: string;
  zeroPoints: string;
}

/** The MatMulNBits node for `q`'s shape; `outputs` as for GraphBuilder.node. */
export function matMulNBits(g: GraphBuilder, name: string, x: string, t: NBitsTensors, q: Pick<NBitsWeight, 'n' | 'k' | 'bits' | 'blockSize'>, outputs: string[] | 1): string {
  return g.node('MatMulNBits', name, [x, t.b, t.scales, t.zeroPoints], outputs, { K: q.k, N: q.n, bits: q.bits, block_size: q.blockSize }, MS)[0]!;
}

/** Symmetric int8 per row of `w` [n, k]: q = round(w / scale), scale = max|row| / 127. */
function quantizeInt8PerRow(w: Float32Array, n: number, k: number): { data: Int8Array; scales: Float32Array } {
  const data = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, Math.abs(w[r * k + c]!));
    const scale = max > 0 ? max / 127 : 1;
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
