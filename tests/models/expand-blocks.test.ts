/**
 * expandBlocks (models/onnx/linear.ts): block-quantized weights expanded to a float MatMul weight by
 * ops ONNX Runtime folds at session creation must equal the blocks' own values (dequantizeNBits, the
 * MatMulNBits formula written out in TypeScript), for every layout the converter stores.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../models/onnx/graph.ts';
import { linear } from '../../models/onnx/linear.ts';
import { dequantizeNBits, quantizeNBits, type NBitsWeight } from '../../models/onnx/quantize.ts';

const N = 24;
const K = 64;
const weights = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));

/** y = x · Wᵀ through expanded blocks, for x = the identity: the rows of Wᵀ. */
async function expandedTranspose(q: NBitsWeight): Promise<Float32Array> {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [K, K]);
  linear(g, 'w', x, new Float32Array(N * K), N, K, q.bits, { output: 'y', blocks: q, expand: true });
  g.output('y', 'float32', [K, N]);
  const session = await ort.InferenceSession.create(g.encode('expand-test', '1', { '': 17, 'com.microsoft': 1 }));
  const identity = Float32Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0));
  return (await session.run({ x: new ort.Tensor('float32', identity, [K, K]) })).y!.data as Float32Array;
}

function transposed(w: Float32Array): Float32Array {
  return Float32Array.from({ length: N * K }, (_, i) => w[(i % N) * K + Math.floor(i / N)]!);
}

describe('expandBlocks', () => {
  const q4 = quantizeNBits(weights, N, K, 4, 32);
  it.each([
    ['4-bit, packed uint8 zero points', q4],
    ['4-bit, float zero points (GGUF Q4_1)', { ...q4, zeroPoints: Float32Array.from({ length: N * 2 }, (_, i) => (i % 5) + 0.25) }],
    ['8-bit, uint8 zero points', quantizeNBits(weights, N, K, 8, 32)],
  ] as Array<[string, NBitsWeight]>)('%s expand to the values MatMulNBits computes with', async (_, q) => {
    const got = await expandedTranspose(q);
    const want = transposed(dequantizeNBits(q));
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-5);
  });
});
