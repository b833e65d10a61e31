/**
 * Linear layers y = x · Wᵀ for weights stored [out, in]: fp32 MatMul, 8-bit DynamicQuantizeMatMul or
 * 4-bit MatMulNBits (both com.microsoft). Shared by every graph the converter builds.
 */
import type { Dtype } from '../../src/model-format.ts';
import type { GraphBuilder } from './graph.ts';
import { toFloat16 } from './half.ts';
import { quantizeInt8Rows, quantizeNBits, type NBitsWeight } from './quantize.ts';

/** The model-folder format's dtypes (q4f16: 4-bit weights with float16 activations, scales and KV cache, for WebGPU). */
export type WeightDtype = Dtype;

export const BITS: Record<WeightDtype, 4 | 8 | null> = { fp32: null, q8: 8, q4: 4, q4f16: 4 };
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
  q4f16: `uint4, asymmetric per block of ${QUANT_BLOCK_SIZE} (MatMulNBits), float16 activations, scales and KV cache`,
};
export const MS = 'com.microsoft';

export interface LinearOptions {
  /** Name of the result (default: generated from `name`). */
  output?: string;
  /** The weight already in blocks of the dtype's width (transcoded from a quantized source): stored as is. */
  blocks?: NBitsWeight | null;
  /** float16 activations: MatMulNBits scales (and float zero points) are stored as float16. */
  float16?: boolean;
  /**
   * 8-bit weights through MatMulNBits (block-wise; activations stay float) instead of DynamicQuantizeMatMul,
   * for models whose activations have outliers that per-tensor activation quantization loses (Gemma).
   */
  weightOnly8?: boolean;
  /** Source blocks stored as they are but expanded to a float32 MatMul weight at session creation (expandBlocks). */
  expand?: boolean;
}

/**
 * Adds `x · weightᵀ` for `weight` [n, k] and returns the output name and the bytes its weights take
 * in the file. fp32 weights are stored transposed ([k, n]) for a plain MatMul. 8-bit weights are
 * symmetric 7-bit-range int8 per output channel for DynamicQuantizeMatMul (activations quantized per call):
 * its integer GEMM has a WASM SIMD kernel, where MatMulNBits' 8-bit path has none and ran 5× slower
 * than llama.cpp's Q8_0. 4-bit weights are block-wise MatMulNBits, which is fast in WASM as it is.
 * Weights that come already block-quantized (`blocks`) go to MatMulNBits unchanged at either width.
 */
export function linear(g: GraphBuilder, name: string, x: string, weight: Float32Array, n: number, k: number, bits: 4 | 8 | null, opts: LinearOptions = {}): { y: string; weightBytes: number } {
  const before = g.initializerBytes;
  const outputs = opts.output ? [opts.output] : 1;
  let y: string;
  if (bits !== null && opts.blocks && opts.expand) {
    const wt = g.op('Transpose', `${name}/weight_t`, [expandBlocks(g, name, opts.blocks)], { perm: [1, 0] });
    y = g.node('MatMul', name, [x, wt], outputs)[0]!;
  } else if (bits !== null && opts.blocks) {
    y = blockLinear(g, name, x, opts.blocks, outputs, opts.float16);
  } else if (bits === null) {
    const wt = g.initializer(`${name}.weight`, 'float32', [k, n], transpose(weight, n, k));
    y = g.node('MatMul', name, [x, wt], outputs)[0]!;
  } else if (bits === 8 && !opts.weightOnly8) {
    const { data, scales } = quantizeInt8Rows(weight, n, k, INT8_WEIGHT_MAX);
    const b = g.initializer(`${name}.weight_int8`, 'int8', [k, n], transpose(data, n, k));
    const sc = g.initializer(`${name}.scales`, 'float32', [n], scales);
    y = g.node('DynamicQuantizeMatMul', name, [x, b, sc], outputs, {}, MS)[0]!;
  } else {
    y = blockLinear(g, name, x, quantizeNBits(weight, n, k, bits, QUANT_BLOCK_SIZE), outputs, opts.float16);
  }
  return { y, weightBytes: g.initializerBytes - before };
}

/** MatMulNBits over block-quantized weights stored as initializers named after `name`. */
function blockLinear(g: GraphBuilder, name: string, x: string, q: NBitsWeight, outputs: string[] | 1, float16 = false): string {
  const blocks = Math.ceil(q.k / q.blockSize);
  const floats = (suffix: string, v: Float32Array): string =>
    float16 ? g.initializer(`${name}.${suffix}`, 'float16', [v.length], toFloat16(v)) : g.initializer(`${name}.${suffix}`, 'float32', [v.length], v);
  const b = g.initializer(`${name}.weight_q`, 'uint8', [q.n, blocks, (q.blockSize * q.bits) / 8], q.data);
  const sc = floats('scales', q.scales);
  const zp = q.zeroPoints instanceof Float32Array ? floats('zero_points', q.zeroPoints) : g.initializer(`${name}.zero_points`, 'uint8', [q.zeroPoints.length], q.zeroPoints);
  return matMulNBits(g, name, x, { b, scales: sc, zeroPoints: zp }, q, outputs);
}

/**
 * The float32 [n, k] matrix of block-quantized weights, computed from the stored blocks by ops whose
 * inputs are all initializers, so ONNX Runtime's constant folding runs them once at session creation.
 * onnxruntime-web's WASM MatMulNBits has no kernel for one row at a time (a decode step ran 30× slower
 * than a float MatMul of the same shape): this keeps a 4-bit download and runs float MatMuls, at the
 * price of float32 weights in memory, and constant folding keeps every intermediate until its pass ends:
 * SmolLM2's session creation peaked at ~3.4 GB of WASM heap, which is why no dtype uses it by default.
 */
export function expandBlocks(g: GraphBuilder, name: string, q: NBitsWeight): string {
  const blocks = Math.ceil(q.k / q.blockSize);
  if (blocks * q.blockSize !== q.k) throw new Error(`${name}: k = ${q.k} is not whole blocks of ${q.blockSize}`);
  const perByte = 8 / q.bits;
  // Each byte is looked up in a table of its values (two nibbles, low first: MatMulNBits' order), so
  // constant folding holds few intermediates: it keeps them all until the end of its pass.
  const table = g.initializer(`${name}.byte_values`, 'float32', [256, perByte], Float32Array.from({ length: 256 * perByte }, (_, i) => (q.bits === 8 ? i : (i >> 1 >> ((i & 1) * 4)) & 15)));
  const stored = g.initializer(`${name}.weight_q`, 'uint8', [q.n, blocks, (q.blockSize * q.bits) / 8], q.data);
  const values = g.op('Gather', `${name}/values`, [table, g.op('Cast', `${name}/q_index`, [stored], { to: 6 })], { axis: 0 });
  const zeroPoints = q.zeroPoints instanceof Float32Array ? q.zeroPoints : unpackZeroPoints(q.zeroPoints, q.n, blocks, q.bits);
  const perBlock = [q.n, blocks, 1, 1];
  const centered = g.op('Sub', `${name}/centered`, [values, g.initializer(`${name}.zero_points`, 'float32', perBlock, zeroPoints)]);
  const scaledBlocks = g.op('Mul', `${name}/dequantized`, [centered, g.initializer(`${name}.scales`, 'float32', perBlock, q.scales)]);
  return g.op('Reshape', `${name}/weight`, [scaledBlocks, g.int64s([q.n, q.k])]);
}

/** MatMulNBits' packed uint8 zero points (two per byte at 4 bits, rows padded to whole bytes) as floats [n·blocks]. */
function unpackZeroPoints(packed: Uint8Array, n: number, blocks: number, bits: 4 | 8): Float32Array {
  if (bits === 8) return Float32Array.from(packed);
  const perRow = Math.ceil(blocks / 2);
  const out = new Float32Array(n * blocks);
  for (let r = 0; r < n; r++) for (let b = 0; b < blocks; b++) out[r * blocks + b] = (packed[r * perRow + (b >> 1)]! >> ((b & 1) * 4)) & 15;
  return out;
}

/** Names of the initializers (or tensors) holding a block-quantized weight in MatMulNBits' layout. */
export interface NBitsTensors {
  b: string;
  scales: string;
  zeroPoints: string;
}

/**
 * Output rows of one MatMulNBits node. onnxruntime-web's WASM build has no kernel for our MatMulNBits
 * (8-bit, and 4-bit one row at a time): it dequantizes the whole weight to a float32 buffer on every
 * call, and its allocator keeps that buffer: SmolLM2's tied LM head (49,152 × 576) added 113 MB at the
 * first run. Wider weights (LM heads) are split into slices of this many rows whose outputs are
 * concatenated: the buffer is then at most rows × k floats.
 */
export const MATMUL_NBITS_ROWS = 8192;

/**
 * The MatMulNBits node(s) for `q`'s shape; `outputs` as for GraphBuilder.node. `t`'s tensors are
 * sliced by row where q.n > MATMUL_NBITS_ROWS (constant folding turns the slices into initializers).
 */
export function matMulNBits(g: GraphBuilder, name: string, x: string, t: NBitsTensors, q: Pick<NBitsWeight, 'n' | 'k' | 'bits' | 'blockSize' | 'zeroPoints'>, outputs: string[] | 1): string {
  // Scales and zero points are flat, row after row.
  const perRow = { scales: Math.ceil(q.k / q.blockSize), zeroPoints: q.zeroPoints.length / q.n };
  const parts = rowSlices(q.n).map(({ row, n }): NBitsSlice => {
    if (n === q.n) return { ...t, row, n };
    const rows = (what: string, tensor: string, per: number): string => g.op('Slice', `${name}/rows_${row}/${what}`, [tensor, g.int64s([row * per]), g.int64s([(row + n) * per]), g.int64s([0])]);
    return { row, n, b: rows('b', t.b, 1), scales: rows('scales', t.scales, perRow.scales), zeroPoints: rows('zero_points', t.zeroPoints, perRow.zeroPoints) };
  });
  return matMulNBitsSlices(g, name, x, parts, q, outputs);
}

/** A weight's rows `row` to `row + n` in MatMulNBits' layout (scales and zero points flat). */
export interface NBitsSlice extends NBitsTensors {
  row: number;
  n: number;
}

/** The row ranges a weight of `n` rows is split into (one when it fits MATMUL_NBITS_ROWS). */
export function rowSlices(n: number): Array<{ row: number; n: number }> {
  const out: Array<{ row: number; n: number }> = [];
  for (let row = 0; row < n; row += MATMUL_NBITS_ROWS) out.push({ row, n: Math.min(MATMUL_NBITS_ROWS, n - row) });
  return out;
}

/** One MatMulNBits per row slice (`parts`, in row order), their outputs concatenated. */
export function matMulNBitsSlices(g: GraphBuilder, name: string, x: string, parts: NBitsSlice[], q: Pick<NBitsWeight, 'k' | 'bits' | 'blockSize'>, outputs: string[] | 1): string {
  const node = (p: NBitsSlice, nodeName: string, out: string[] | 1): string =>
    g.node('MatMulNBits', nodeName, [x, p.b, p.scales, p.zeroPoints], out, { K: q.k, N: p.n, bits: q.bits, block_size: q.blockSize }, MS)[0]!;
  if (parts.length === 1) return node(parts[0]!, name, outputs);
  return g.node('Concat', name, parts.map((p) => node(p, `${name}/rows_${p.row}`, 1)), outputs, { axis: -1 })[0]!;
}

/** [rows, cols] → [cols, rows], for weights of any element type. */
function transpose<T extends Float32Array | Int8Array>(w: T, rows: number, cols: number): T {
  const out = new (w.constructor as new (length: number) => T)(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}
