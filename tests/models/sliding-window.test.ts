/**
 * GroupQueryAttention's `local_window_size`, which the Gemma 3 graph uses for its sliding layers: how
 * many keys a query sees, in prefill and in one-token decode with a cache, in onnxruntime-node and in
 * onnxruntime-web's WASM build. Queries and keys are zero, so attention is uniform over the allowed
 * keys, and value j is j: each output is the mean position of the keys it attended to.
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../models/onnx/graph.ts';
import { MS } from '../../models/onnx/linear.ts';

const HEAD = 16;
const WINDOW = 3;
const N = 10;

function gqaGraph(window: number): Uint8Array {
  const g = new GraphBuilder();
  const [q, k, v] = ['q', 'k', 'v'].map((n) => g.input(n, 'float32', [1, 'seq', HEAD]));
  const [pk, pv] = ['past_key', 'past_value'].map((n) => g.input(n, 'float32', [1, 1, 'past', HEAD]));
  const seqlensK = g.input('seqlens_k', 'int32', [1]);
  const total = g.input('total', 'int32', []);
  for (const o of ['out', 'present_key', 'present_value']) g.output(o, 'float32');
  g.node('GroupQueryAttention', 'gqa', [q!, k!, v!, pk!, pv!, seqlensK, total], ['out', 'present_key', 'present_value'], { num_heads: 1, kv_num_heads: 1, local_window_size: window }, MS);
  return g.encode('gqa', 'test', { '': 17, [MS]: 1 });
}

type Ort = typeof ortNode | typeof ortWeb;

/** Mean attended position for each query when `fresh` tokens follow `past` cached ones. */
async function attendedMeans(ort: Ort, past: number, fresh: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(gqaGraph(WINDOW));
  const positions = (from: number, count: number): Float32Array => Float32Array.from({ length: count * HEAD }, (_, i) => from + Math.floor(i / HEAD));
  const t = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const out = await session.run({
    q: t(new Float32Array(fresh * HEAD), [1, fresh, HEAD]),
    k: t(new Float32Array(fresh * HEAD), [1, fresh, HEAD]),
    v: t(positions(past, fresh), [1, fresh, HEAD]),
    past_key: t(new Float32Array(past * HEAD), [1, 1, past, HEAD]),
    past_value: t(positions(0, past), [1, 1, past, HEAD]),
    seqlens_k: new ort.Tensor('int32', Int32Array.of(past + fresh - 1), [1]),
    total: new ort.Tensor('int32', Int32Array.of(past + fresh), []),
  });
  const data = out.out!.data as Float32Array;
  return Array.from({ length: fresh }, (_, i) => data[i * HEAD]!);
}

/** Position i sees keys max(0, i − WINDOW + 1) … i. */
const expected = (from: number, count: number): number[] =>
  Array.from({ length: count }, (_, j) => {
    const i = from + j;
    const first = Math.max(0, i - WINDOW + 1);
    return (first + i) / 2;
  });

describe.each([
  ['onnxruntime-node', ortNode as Ort],
  ['onnxruntime-web (WASM)', ortWeb as Ort],
])('GroupQueryAttention local_window_size in %s', (_, ort) => {
  it('lets each query of a prefill see exactly local_window_size keys, itself included', async () => {
    expect(await attendedMeans(ort, 0, N)).toEqual(expected(0, N));
  });

  it('lets a decoded token see exactly local_window_size keys of the cache and itself', async () => {
    expect(await attendedMeans(ort, N - 1, 1)).toEqual(expected(N - 1, 1));
  });
});
