/**
 * MatMulNBits weights wider than MATMUL_NBITS_ROWS (LM heads) are split into row slices whose outputs
 * are concatenated (models/onnx/linear.ts), so that onnxruntime-web's WASM fallback dequantizes one
 * slice at a time. The split product must equal x · Wᵀ with W the blocks' own values (dequantizeNBits,
 * the MatMulNBits formula written out in TypeScript), for every layout the converter stores.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../models/onnx/graph.ts';
import { linear, MATMUL_NBITS_ROWS } from '../../models/onnx/linear.ts';
import { dequantizeNBits, quantizeNBits, type NBitsWeight } from '../../models/onnx/quantize.ts';

const N = 2 * MATMUL_NBITS_ROWS + 40;
/** Three blocks of 32: 4-bit zero points take two bytes a row, the second half-used. */
const K = 96;
const M = 2;
const weights = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.11));

async function product(q: NBitsWeight): Promise<{ y: Float32Array; nodes: number }> {
  const g = new GraphBuilder();
  linear(g, 'w', g.input('x', 'float32', [M, K]), new Float32Array(0), N, K, q.bits, { output: 'y', blocks: q });
  g.output('y', 'float32', [M, N]);
  const model = g.encode('rows-test', '1', { '': 17, 'com.microsoft': 1 });
  const session = await ort.InferenceSession.create(model);
  const y = (await session.run({ x: new ort.Tensor('float32', x, [M, K]) })).y!.data as Float32Array;
  return { y, nodes: Buffer.from(model).toString('latin1').split('MatMulNBits').length - 1 };
}

describe('MatMulNBits split by rows', () => {
  const q4 = quantizeNBits(weights, N, K, 4, 32);
  it.each([
    ['4-bit, packed uint8 zero points', q4],
    ['4-bit, float zero points (GGUF Q4_1)', { ...q4, zeroPoints: Float32Array.from({ length: N * 3 }, (_, i) => (i % 5) + 0.25) }],
    ['8-bit, uint8 zero points', quantizeNBits(weights, N, K, 8, 32)],
  ] as Array<[string, NBitsWeight]>)('%s: three slices give x · Wᵀ of the whole weight', async (_, q) => {
    const { y, nodes } = await product(q);
    expect(nodes).toBe(3);
    const w = dequantizeNBits(q);
    let worst = 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let want = 0;
        for (let k = 0; k < K; k++) want += x[m * K + k]! * w[n * K + k]!;
        worst = Math.max(worst, Math.abs(y[m * N + n]! - want) / (1 + Math.abs(want)));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
