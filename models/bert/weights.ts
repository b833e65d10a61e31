/**
 * BERT-family encoder weights: the shape and tensors of a Hub `BertModel`, and deterministic random
 * weights in a real shape for the synthetic encoder that exercises the runtime's Hub encoder path
 * (transformers.js feature extraction). Embeddings from random weights carry no meaning.
 */
import { mulberry32 } from '../../src/util/random.ts';

export interface BertShape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
}

/** Matrices are [out, in], row-major, as in llama2.c and PyTorch's nn.Linear. */
export interface BertLayerWeights {
  wq: Float32Array;
  bq: Float32Array;
  wk: Float32Array;
  bk: Float32Array;
  wv: Float32Array;
  bv: Float32Array;
  wo: Float32Array;
  bo: Float32Array;
  attnNormGamma: Float32Array;
  attnNormBeta: Float32Array;
  w1: Float32Array; // [intermediate, hidden]
  b1: Float32Array;
  w2: Float32Array; // [hidden, intermediate]
  b2: Float32Array;
  ffnNormGamma: Float32Array;
  ffnNormBeta: Float32Array;
}

export interface BertWeights {
  wordEmbeddings: Float32Array; // [vocab, hidden]
  positionEmbeddings: Float32Array; // [maxPositions, hidden]
  tokenTypeEmbeddings: Float32Array; // [typeVocab, hidden]
  embNormGamma: Float32Array;
  embNormBeta: Float32Array;
  layers: BertLayerWeights[];
}

export const BERT_LAYER_NORM_EPS = 1e-12;

/** The shape of google/bert_uncased_L-2_H-128_A-2 ("bert-tiny"); the vocabulary size is the caller's. */
export const BERT_TINY: Omit<BertShape, 'vocabSize'> = { hidden: 128, intermediate: 512, layers: 2, heads: 2, maxPositions: 512, typeVocabSize: 2 };

export function syntheticBertWeights(shape: BertShape, seed = 1): BertWeights {
  const rand = mulberry32(seed);
  const uniform = (n: number, a: number): Float32Array => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * a);
  // 1/sqrt(fan_in) variance for matrices; unit variance for embeddings; norms near 1 and biases near 0
  // but not exactly, so every parameter is exercised by the parity tests.
  const matrix = (rows: number, cols: number): Float32Array => uniform(rows * cols, Math.sqrt(3 / cols));
  const bias = (n: number): Float32Array => uniform(n, 0.02);
  const gamma = (n: number): Float32Array => uniform(n, 0.1).map((v) => 1 + v);
  const { hidden: h, intermediate: i } = shape;
  return {
    wordEmbeddings: uniform(shape.vocabSize * h, Math.sqrt(3)),
    positionEmbeddings: uniform(shape.maxPositions * h, Math.sqrt(3)),
    tokenTypeEmbeddings: uniform(shape.typeVocabSize * h, Math.sqrt(3)),
    embNormGamma: gamma(h),
    embNormBeta: bias(h),
    layers: Array.from({ length: shape.layers }, () => ({
      wq: matrix(h, h),
      bq: bias(h),
      wk: matrix(h, h),
      bk: bias(h),
      wv: matrix(h, h),
      bv: bias(h),
      wo: matrix(h, h),
      bo: bias(h),
      attnNormGamma: gamma(h),
      attnNormBeta: bias(h),
      w1: matrix(i, h),
      b1: bias(i),
      w2: matrix(h, i),
      b2: bias(h),
      ffnNormGamma: gamma(h),
      ffnNormBeta: bias(h),
    })),
  };
}
