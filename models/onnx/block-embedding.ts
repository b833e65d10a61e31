/**
 * A block-quantized token embedding and the tied LM head over the very same bytes: the table is
 * stored once in MatMulNBits' layout ([vocab, blocks, blob] uint8, block 32, uint8 zero points) and
 * the lookup reads it through com.microsoft GatherBlockQuantized (a kernel in onnxruntime's CPU and
 * WASM builds), so a quantized model does not carry a float32 vocabulary × width matrix. In memory
 * ORT holds the table twice after constant folding: reshaped for the lookup, and in row slices for the
 * head (linear.ts MATMUL_NBITS_ROWS).
 */
import type { GraphBuilder } from './graph.ts';
import { expandBlocks, matMulNBits, MS, QUANT_BLOCK_SIZE, type NBitsTensors } from './linear.ts';
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

/** `source`: the table already in blocks (used when its zero points are uint8, as GatherBlockQuantized needs). */
export function quantizedEmbedding(g: GraphBuilder, name: string, table: Float32Array, vocab: number, dim: number, bits: 4 | 8, source: NBitsWeight | null, float16 = false, expand = false): QuantizedEmbedding {
  const before = g.initializerBytes;
  const q: NBitsWeight = source?.bits === bits && source.zeroPoints instanceof Uint8Array ? source : quantizeNBits(table, vocab, dim, bits, QUANT_BLOCK_SIZE);
  if (expand) return expandedEmbedding(g, name, q, dim, before);
  const blocks = Math.ceil(dim / QUANT_BLOCK_SIZE);
  const blob = (QUANT_BLOCK_SIZE * bits) / 8;
  const t: NBitsTensors = {
    b: g.initializer(`${name}.weight_q`, 'uint8', [vocab, blocks, blob], q.data),
    // float16 scales make the lookup and the head produce float16, for float16 graphs.
    scales: float16 ? g.initializer(`${name}.scales`, 'float16', [vocab, blocks], toFloat16(q.scales)) : g.initializer(`${name}.scales`, 'float32', [vocab, blocks], q.scales),
    zeroPoints: g.initializer(`${name}.zero_points`, 'uint8', [vocab, q.zeroPoints.length / vocab], q.zeroPoints),
  };
  const bytes = g.initializerBytes - before;
  return {
    bytes,
    lookup: (ids) => {
      // GatherBlockQuantized wants the packed rows as [vocab, packed width]: a view of the same bytes.
      const rows = g.op('Reshape', `${name}/rows`, [t.b, g.int64s([vocab, blocks * blob])]);
      return g.op('GatherBlockQuantized', `${name}/gather`, [rows, ids, t.scales, t.zeroPoints], { bits: bits, block_size: QUANT_BLOCK_SIZE, gather_axis: 0, quantize_axis: 1 }, MS);
    },
    head: (x, output) => {
      const flat = (what: string, tensor: string): string => g.op('Reshape', `${name}/head_${what}`, [tensor, g.int64s([-1])]);
      return matMulNBits(g, `${name}/head`, x, { b: t.b, scales: flat('scales', t.scales), zeroPoints: flat('zero_points', t.zeroPoints) }, q, [output]);
    },
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
