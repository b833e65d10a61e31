import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointModel, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { buildLlamaGraph } from '../../models/onnx/llama.ts';
import { syntheticCheckpoint } from '../../models/synthetic.ts';
import { argmax, ReferenceModel } from '../reference/llama2c.ts';
import { maxAbsDiff, NodeDecoder } from '../support/ort-node.ts';
import { KNOWN_GOOD, STORIES_DIR, storiesReference } from '../support/sources.ts';
import { resolveSource, STORIES_260K } from '../../models/sources.ts';

const SHAPE = { layers: 5, kvHeads: 4, headSize: 8, vocab: 512 };

describe('stories260K ONNX against the reference', () => {
  let reference: ReferenceModel;
  let sequence: number[];
  let refLogits: Float32Array[];

  beforeAll(async () => {
    const { model, tokenizer } = await storiesReference();
    const prompt = tokenizer.encode(KNOWN_GOOD.prompt);
    sequence = [...prompt, ...model.greedy(prompt, 59)];
    expect(sequence).toHaveLength(64);
    refLogits = sequence.map((t, pos) => Float32Array.from(model.forward(t, pos)));
    reference = model;
  });

  it('fp32 logits match within 1e-4 at every position of a 64-token sequence (one prefill)', async () => {
    const decoder = await NodeDecoder.open(join(STORIES_DIR, 'onnx/model.onnx'), SHAPE);
    const logits = await decoder.feed(sequence);
    logits.forEach((row, pos) => expect(maxAbsDiff(row, refLogits[pos]!), `position ${pos}`).toBeLessThan(1e-4));
  });

  it('exports the final normed hidden states (last_hidden_state) within 1e-4 of the reference', async () => {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(STORIES_DIR, 'onnx/model.onnx'));
    const ids = sequence.slice(0, 12);
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, ids.length]),
    };
    for (let l = 0; l < 5; l++) for (const k of ['key', 'value']) feeds[`past_key_values.${l}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8]);
    const hidden = (await session.run(feeds)).last_hidden_state!;
    expect(hidden.dims).toEqual([1, 12, 64]);
    ids.forEach((id, pos) => {
      reference.forward(id, pos);
      expect(maxAbsDiff((hidden.data as Float32Array).subarray(pos * 64, (pos + 1) * 64), reference.lastHidden), `position ${pos}`).toBeLessThan(1e-4);
    });
  });

  it('fp32 logits match when the same sequence is fed in pieces through the KV cache', async () => {
    const decoder = await NodeDecoder.open(join(STORIES_DIR, 'onnx/model.onnx'), SHAPE);
    const logits = [...(await decoder.feed(sequence.slice(0, 10)))];
    for (let pos = 10; pos < sequence.length; pos++) logits.push(...(await decoder.feed([sequence[pos]!])));
    logits.forEach((row, pos) => expect(maxAbsDiff(row, refLogits[pos]!), `position ${pos}`).toBeLessThan(1e-4));
  });

  /** Teacher-forced top-1 agreement of a quantized file with fp32 over the first 60 positions. */
  const agreements = new Map<string, Promise<number>>();
  function agreement(file: string): Promise<number> {
    if (!agreements.has(file)) {
      agreements.set(file, (async () => {
        const fp32 = await (await NodeDecoder.open(join(STORIES_DIR, 'onnx/model.onnx'), SHAPE)).feed(sequence.slice(0, 60));
        const quant = await (await NodeDecoder.open(join(STORIES_DIR, 'onnx', file), SHAPE)).feed(sequence.slice(0, 60));
        const agree = fp32.filter((row, pos) => argmax(row) === argmax(quant[pos]!)).length;
        console.log(`${file}: top-1 agreement with fp32 ${agree}/60`);
        return agree / 60;
      })());
    }
    return agreements.get(file)!;
  }

  it.each([
    { dtype: 'q8', file: 'model_quantized.onnx', minAgreement: 0.95 },
    { dtype: 'q4', file: 'model_q4.onnx', minAgreement: 0.85 },
  ])('$dtype agrees with fp32 on the teacher-forced top-1 token at ≥ $minAgreement of 60 positions', async ({ file, minAgreement }) => {
    expect(await agreement(file)).toBeGreaterThanOrEqual(minAgreement);
  });

  it('q8 agrees with fp32 at least as often as q4', async () => {
    expect(await agreement('model_quantized.onnx')).toBeGreaterThanOrEqual(await agreement('model_q4.onnx'));
  });

  it('stores 4-bit linear weights in at most 0.35× and 8-bit in at most 0.3× of fp32', async () => {
    const manifest = JSON.parse(readFileSync(join(STORIES_DIR, 'manifest.json'), 'utf8'));
    const fp32 = manifest.dtypes.fp32.linearWeightBytes;
    console.log(`linear weight bytes: fp32 ${fp32}, q8 ${manifest.dtypes.q8.linearWeightBytes}, q4 ${manifest.dtypes.q4.linearWeightBytes}`);
    expect(manifest.dtypes.q4.linearWeightBytes / fp32).toBeLessThanOrEqual(0.35);
    expect(manifest.dtypes.q8.linearWeightBytes / fp32).toBeLessThanOrEqual(0.3);
    // The builder and the manifest agree with what is actually in the file.
    const rebuilt = buildLlamaGraph(checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint))), 'q4', '1.0.0');
    expect(rebuilt.linearWeightBytes).toBe(manifest.dtypes.q4.linearWeightBytes);
  });

  it('uses the fused operators', () => {
    const graph = readFileSync(join(STORIES_DIR, 'onnx/model_q4.onnx'));
    for (const op of ['SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RotaryEmbedding', 'MatMulNBits', 'QuickGelu']) {
      expect(graph.includes(op), op).toBe(true);
    }
    expect(readFileSync(join(STORIES_DIR, 'onnx/model_quantized.onnx')).includes('DynamicQuantizeMatMul')).toBe(true);
    expect(reference.vocab).toBe(512);
  });
});

describe('GroupQueryAttention path (head size a multiple of 16)', () => {
  it('matches the reference through prefill and cached decode with grouped KV heads', async () => {
    // A small synthetic model with 4 query heads sharing 2 KV heads of size 16.
    const shape = { dim: 64, hiddenDim: 96, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 64, sharedClassifier: true };
    const ck = syntheticCheckpoint(shape, 7);
    const built = buildLlamaGraph(checkpointModel(ck), 'fp32', 'test');
    expect(built.attention).toBe('GroupQueryAttention');
    const reference = new ReferenceModel(toLegacyCheckpoint(ck));
    const decoder = await NodeDecoder.open(built.bytes, { layers: 2, kvHeads: 2, headSize: 16, vocab: 300 });
    const ids = [1, 17, 250, 33, 99, 5, 42, 120];
    const logits = [...(await decoder.feed(ids.slice(0, 5)))];
    for (const id of ids.slice(5)) logits.push(...(await decoder.feed([id])));
    logits.forEach((row, pos) => expect(maxAbsDiff(row, reference.forward(ids[pos]!, pos)), `position ${pos}`).toBeLessThan(1e-4));
  });
});

/** Serialises a checkpoint back into llama2.c's legacy format so the independent reference can read it. */
function toLegacyCheckpoint({ shape: s, weights: w }: ReturnType<typeof syntheticCheckpoint>): Uint8Array {
  const header = Int32Array.of(s.dim, s.hiddenDim, s.nLayers, s.nHeads, s.nKvHeads, s.vocabSize, s.seqLen);
  const freqCis = new Float32Array((s.seqLen * s.dim) / s.nHeads);
  const parts = [header, w.tokenEmbedding, ...w.rmsAtt, ...w.wq, ...w.wk, ...w.wv, ...w.wo, ...w.rmsFfn, ...w.w1, ...w.w2, ...w.w3, w.rmsFinal, freqCis];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o);
    o += p.byteLength;
  }
  return out;
}
