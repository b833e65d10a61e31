/**
 * A block-quantized token embedding and the tied LM head over the very same bytes: the table is
 * stored once in MatMulNBits' layout ([vocab, blocks, blob] uint8, block 32, uint8 zero points) and
 * the lookup reads it through com.microsoft GatherBlockQuantized (a kernel in onnxruntime's CPU and
 * WASM builds), so a quantized model does not carry a float32 vocabulary × width matrix.
 */
import type { GraphBuilder } from './graph.ts';
import { expandBlocks, matMulNBitsSlices, MS, QUANT_BLOCK_SIZE, rowSlices, type NBitsSlice } from './linear.ts';
import { toFloat16 } from './half.ts';
import { quantizeNBits, type NBitsWeight } from './quantize.ts';

export interface QuantizedEmbedding {
  /** [batch, seq] ids → [batch, seq, dim] float rows. */
  lookup(ids: string): string;
  /** x · tableᵀ: the tied LM head. */
  head(x: string, output: string): string;
  /** Bytes the table takes in the file. */
  bytes: number;
}

/**
 * `source`: the table already in blocks (used when its zero points are uint8, as GatherBlockQuantized
 * needs). The table is stored in row slices (linear.ts rowSlices), each once: the head runs one
 * MatMulNBits per slice, and the lookup gathers every id from each slice and keeps the row of the slice
 * holding it (a few rows per call), so ORT holds no second copy of the table.
 */
export function quantizedEmbedding(g: GraphBuilder, name: string, table: Float32Array, vocab: number, dim: number, bits: 8, source: NBitsWeight | null, float16 = false, expand = false): QuantizedEmbedding {
  const before = g.initializerBytes;
  const q: NBitsWeight = source?.bits === bits && source.zeroPoints instanceof Uint8Array ? source : quantizeNBits(table, vocab, dim, bits, QUANT_BLOCK_SIZE);
  if (expand) return expandedEmbedding(g, name, q, dim, before);
  const blocks = Math.ceil(dim / QUANT_BLOCK_SIZE);
  const parts = rowSlices(vocab).map(({ row, n }): NBitsSlice => {
    const suffix = n === vocab ? '' : `.rows_${row}`;
    const scales = q.scales.subarray(row * blocks, (row + n) * blocks);
    return {
      row,
      n,
      // 8 bits: a block's blob is one byte per weight.
      b: g.initializer(`${name}.weight_q${suffix}`, 'uint8', [n, blocks, QUANT_BLOCK_SIZE], q.data.subarray(row * blocks * QUANT_BLOCK_SIZE, (row + n) * blocks * QUANT_BLOCK_SIZE)),
      // float16 scales make the lookup and the head produce float16, for float16 graphs.
      scales: float16 ? g.initializer(`${name}.scales${suffix}`, 'float16', [n * blocks], toFloat16(scales)) : g.initializer(`${name}.scales${suffix}`, 'float32', [n * blocks], scales),
      zeroPoints: g.initializer(`${name}.zero_points${suffix}`, 'uint8', [n * blocks], (q.zeroPoints as Uint8Array).subarray(row * blocks, (row + n) * blocks)),
    };
  });
  const bytes = g.initializerBytes - before;
  return {
    bytes,
    lookup: (ids) => {
      // GatherBlockQuantized reads MatMulNBits' [rows, blocks, block] bytes with one scale and zero point per block.
      const perBlock = (p: NBitsSlice, what: string, tensor: string): string => g.op('Reshape', `${name}/rows_${p.row}/${what}`, [tensor, g.int64s([p.n, blocks, 1])]);
      const gather = (p: NBitsSlice, index: string): string =>
        g.op('GatherBlockQuantized', `${name}/rows_${p.row}/gather`, [p.b, index, perBlock(p, 'scales', p.scales), perBlock(p, 'zero_points', p.zeroPoints)], { bits, block_size: QUANT_BLOCK_SIZE, gather_axis: 0, quantize_axis: 2 }, MS);
      // [batch, seq, blocks, block] → [batch, seq, dim]
      const flat = (rows: string): string => g.op('Reshape', `${name}/rows`, [rows, g.int64s([0, 0, dim])]);
      if (parts.length === 1) return flat(gather(parts[0]!, ids));
      let rows: string | null = null;
      for (const p of parts) {
        const at = (op: string, inputs: string[]): string => g.op(op, `${name}/rows_${p.row}/${op}`, inputs);
        const local = at('Sub', [ids, g.int64s([p.row], true)]);
        const inside = at('And', [at('GreaterOrEqual', [local, g.int64s([0], true)]), at('Less', [local, g.int64s([p.n], true)])]);
        const picked = gather(p, at('Where', [inside, local, g.int64s([0], true)]));
        rows = rows === null ? picked : g.op('Where', `${name}/rows_${p.row}/keep`, [at('Unsqueeze', [inside, g.int64s([-1, -2])]), picked, rows]);
      }
      return flat(rows!);
    },
    head: (x, output) => matMulNBitsSlices(g, `${name}/head`, x, parts, q, [output]),
  };
}

/** The table's blocks expanded to float32 at session creation (linear.ts expandBlocks): a plain Gather and a Gemm head. */
function expandedEmbedding(g: GraphBuilder, name: string, q: NBitsWeight, dim: number, before: number): QuantizedEmbedding {
  const table = expandBlocks(g, name, q);
  return {
    bytes: g.initializerBytes - before,
    lookup: (ids) => g.op('Gather', `${name}/gather`, [table, ids], { axis: 0 }),
    head: (x, output) => {
      const logits2d = g.op('Gemm', `${name}/head`, [g.op('Reshape', `${name}/head_flatten`, [x, g.int64s([-1, dim])]), table], { transB: 1 });
      const leading = g.op('Shape', `${name}/head_leading`, [x], { end: 2 });
      const shape = g.op('Concat', `${name}/head_shape`, [leading, g.int64s([q.n])], { axis: 0 });
      return g.node('Reshape', `${name}/head_unflatten`, [logits2d, shape], [output])[0]!;
    },
  };
}
