/**
 * The block-quantized token embedding and tied LM head (models/onnx/block-embedding.ts) keep the table
 * once, in row slices: the lookup must return each id's row from the slice that holds it, and the head
 * must give x · tableᵀ over every slice, both against the blocks' own values (dequantizeNBits).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { quantizedEmbedding } from '../../models/onnx/block-embedding.ts';
import { GraphBuilder } from '../../models/onnx/graph.ts';
import { MATMUL_NBITS_ROWS, MS } from '../../models/onnx/linear.ts';
import { dequantizeNBits, quantizeNBits } from '../../models/onnx/quantize.ts';

const VOCAB = 2 * MATMUL_NBITS_ROWS + 5;
const DIM = 64;
const table = Float32Array.from({ length: VOCAB * DIM }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
const values = dequantizeNBits(quantizeNBits(table, VOCAB, DIM, 8, 32));
/** The first and last id of every slice, and one inside. */
const IDS = [0, 5, MATMUL_NBITS_ROWS - 1, MATMUL_NBITS_ROWS, MATMUL_NBITS_ROWS + 77, 2 * MATMUL_NBITS_ROWS - 1, 2 * MATMUL_NBITS_ROWS, VOCAB - 1];

async function run(): Promise<{ rows: Float32Array; logits: Float32Array; x: Float32Array }> {
  const g = new GraphBuilder();
  const embedding = quantizedEmbedding(g, 'embed', table, VOCAB, DIM, 8, null);
  const rows = embedding.lookup(g.input('ids', 'int64', [1, IDS.length]));
  g.node('Identity', 'rows_out', [rows], ['rows']);
  embedding.head(g.input('x', 'float32', [1, 1, DIM]), 'logits');
  g.output('rows', 'float32', [1, IDS.length, DIM]);
  g.output('logits', 'float32', [1, 1, VOCAB]);
  const session = await ort.InferenceSession.create(g.encode('embedding-test', '1', { '': 17, [MS]: 1 }));
  const x = Float32Array.from({ length: DIM }, (_, i) => Math.cos(i * 0.3));
  const out = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(IDS, BigInt), [1, IDS.length]), x: new ort.Tensor('float32', x, [1, 1, DIM]) });
  return { rows: out.rows!.data as Float32Array, logits: out.logits!.data as Float32Array, x };
}

describe('block-quantized embedding in row slices', () => {
  it('looks up each id’s row from the slice that holds it, exactly', async () => {
    const { rows } = await run();
    IDS.forEach((id, i) => expect(Array.from(rows.subarray(i * DIM, (i + 1) * DIM))).toEqual(Array.from(values.subarray(id * DIM, (id + 1) * DIM))));
  });

  it('the tied head gives x · tableᵀ over every slice', async () => {
    const { logits, x } = await run();
    let worst = 0;
    for (let v = 0; v < VOCAB; v++) {
      let want = 0;
      for (let k = 0; k < DIM; k++) want += x[k]! * values[v * DIM + k]!;
      worst = Math.max(worst, Math.abs(logits[v]! - want) / (1 + Math.abs(want)));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
