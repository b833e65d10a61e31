/**
 * Linear layers y = x · Wᵀ (+ b) for weights stored [out, in], as fp32 MatMul or as ONNX Runtime's
 * com.microsoft MatMulNBits with block-wise 8- or 4-bit weights. Shared by every graph the converter builds.
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
export const MS = 'com.microsoft';
/**
 * MatMulNBits compute precision. ORT 1.30's 8-bit kernels with float activations (accuracy_level 0) are a
 * slow reference path (16 tokens/s on llama-15m where fp32 does 230); level 4 quantizes activations
 * to int8 per block and uses the optimised int8 kernels. 4-bit is fast as it is and stays exact-float.
 */
const ACCURACY: Record<4 | 8, { accuracy_level?: number }> = { 4: {}, 8: { accuracy_level: 4 } };

export interface LinearOptions {
  /** Name of the result (default: generated from `name`). */
  output?: string;
}

/**
 * Adds `x · weightᵀ` for `weight` [n, k] and returns the output name and the bytes its weights take
 * in the file. fp32 weights are stored transposed ([k, n]) for a plain MatMul.
 */
export function linear(g: GraphBuilder, name: string, x: string, weight: Float32Array, n: number, k: number, bits: 4 | 8 | null, opts: LinearOptions = {}): { y: string; weightBytes: number } {
  const before = g.initializerBytes;
  const outputs = opts.output ? [opts.output] : 1;
  let y: string;
  if (bits === null) {
    const wt = g.initializer(`${name}.weight`, 'float32', [k, n], transpose(weight, n, k));
    y = g.node('MatMul', name, [x, wt], outputs)[0]!;
  } else {
    const q = quantizeNBits(weight, n, k, bits, QUANT_BLOCK_SIZE);
    const blocks = Math.ceil(k / QUANT_BLOCK_SIZE);
    const b = g.initializer(`${name}.weight_q`, 'uint8', [n, blocks, (QUANT_BLOCK_SIZE * bits) / 8], q.data);
    const sc = g.initializer(`${name}.scales`, 'float32', [n * blocks], q.scales);
    const zp = g.initializer(`${name}.zero_points`, 'uint8', [q.zeroPoints.length], q.zeroPoints);
    y = g.node('MatMulNBits', name, [x, b, sc, zp], outputs, { K: k, N: n, bits, block_size: QUANT_BLOCK_SIZE, ...ACCURACY[bits] }, MS)[0]!;
  }
  return { y, weightBytes: g.initializerBytes - before };
}

export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}
