/**
 * The synthetic BERT encoder (encoder-tiny) against the independent reference in tests/reference/bert.ts:
 * its WordPiece tokenizer.json through transformers.js, its ONNX graphs through onnxruntime-node (with
 * padding in a batch), and transformers.js feature extraction end to end.
 */
import { join } from 'node:path';
import { AutoTokenizer, env, pipeline, type FeatureExtractionPipeline, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticBertWeights, type BertWeights } from '../../models/bert/weights.ts';
import { meanPooledNormalised, referenceBertForward, ReferenceWordPiece } from '../reference/bert.ts';
import { TOKENIZER_CORPUS } from '../support/corpus.ts';
import { ENCODER_DIR as DIR, encoderTiny, MODELS_DIR } from '../support/sources.ts';

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;

const { shape, vocab } = encoderTiny();
const SENTENCES = [
  'Once upon a time, there was a little girl named Lily.',
  'The dog ran to the park! He was very happy.',
  'Tom and Sue baked 12 cookies; they shared them with their friends.',
];

describe('encoder-tiny (BERT) against the reference', () => {
  let weights: BertWeights;
  let tokenizer: PreTrainedTokenizer;
  const reference = new ReferenceWordPiece(vocab);

  beforeAll(async () => {
    weights = syntheticBertWeights(shape);
    tokenizer = await AutoTokenizer.from_pretrained('encoder-tiny', { local_files_only: true });
  });

  it('has a real WordPiece vocabulary: specials, ASCII characters and continuations', () => {
    expect(vocab.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(vocab.length).toBe(shape.vocabSize);
    expect(vocab.filter((t) => t.startsWith('##')).length).toBeGreaterThan(36);
    expect(reference.basicTokens('Hello, World!')).toEqual(['hello', ',', 'world', '!']);
  });

  it.each([...TOKENIZER_CORPUS, ...SENTENCES])('tokenizes %j exactly as the reference', (text) => {
    expect(tokenizer.encode(text)).toEqual(reference.encode(text));
  });

  /** Worst-case error and cosine of a graph's last_hidden_state against the reference, padded batch included. */
  const accuracies = new Map<string, Promise<{ worst: number; cosine: number }>>();
  function accuracy(dtype: 'fp32' | 'q8' | 'q4'): Promise<{ worst: number; cosine: number }> {
    if (!accuracies.has(dtype)) accuracies.set(dtype, measure(dtype));
    return accuracies.get(dtype)!;
  }
  async function measure(dtype: 'fp32' | 'q8' | 'q4'): Promise<{ worst: number; cosine: number }> {
    const file = { fp32: 'model.onnx', q8: 'model_quantized.onnx', q4: 'model_q4.onnx' }[dtype];
    const session = await ort.InferenceSession.create(join(DIR, 'onnx', file));
    const rows = SENTENCES.slice(0, 2).map((s) => reference.encode(s));
    const width = Math.max(...rows.map((r) => r.length));
    const tensor = (f: (row: number[], i: number) => number): ort.Tensor =>
      new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => Array.from({ length: width }, (_, i) => BigInt(f(r, i))))), [rows.length, width]);
    const out = await session.run({
      input_ids: tensor((r, i) => r[i] ?? 0),
      attention_mask: tensor((r, i) => (i < r.length ? 1 : 0)),
      token_type_ids: tensor(() => 0),
    });
    const hidden = out.last_hidden_state!.data as Float32Array;
    let worst = 0;
    let cosine = 1;
    rows.forEach((ids, b) => {
      const expected = referenceBertForward(shape, weights, ids);
      expected.forEach((row, t) => {
        const got = hidden.subarray((b * width + t) * shape.hidden, (b * width + t + 1) * shape.hidden);
        row.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]!))));
        let dot = 0;
        row.forEach((v, i) => (dot += v * got[i]!));
        cosine = Math.min(cosine, dot / (Math.hypot(...row) * Math.hypot(...got)));
      });
    });
    console.log(`${file}: max |Δ| ${worst.toExponential(2)}, min cosine ${cosine.toFixed(5)} against the reference`);
    await session.release();
    return { worst, cosine };
  }

  it.each(['fp32', 'q8', 'q4'] as const)('%s last_hidden_state matches the reference, also for a padded row in a batch', async (dtype) => {
    const { worst, cosine } = await accuracy(dtype);
    if (dtype === 'fp32') expect(worst).toBeLessThan(1e-4);
    else expect(cosine).toBeGreaterThan(dtype === 'q8' ? 0.999 : 0.98);
  });

  it('q8 is at least as close to the reference as q4', async () => {
    expect((await accuracy('q8')).cosine).toBeGreaterThanOrEqual((await accuracy('q4')).cosine);
  });

  it('transformers.js feature extraction gives the reference mean-pooled embedding', async () => {
    const extractor = (await pipeline('feature-extraction', 'encoder-tiny', { dtype: 'fp32', local_files_only: true })) as FeatureExtractionPipeline;
    const out = await extractor(SENTENCES, { pooling: 'mean', normalize: true });
    expect(out.dims).toEqual([SENTENCES.length, shape.hidden]);
    SENTENCES.forEach((text, b) => {
      const expected = meanPooledNormalised(referenceBertForward(shape, weights, reference.encode(text)));
      const got = (out.data as Float32Array).subarray(b * shape.hidden, (b + 1) * shape.hidden);
      expected.forEach((v, i) => expect(Math.abs(v - got[i]!)).toBeLessThan(1e-5));
    });
    await extractor.dispose();
  });
});
