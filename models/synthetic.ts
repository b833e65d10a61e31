/**
 * Models of realistic size with deterministic random weights, for performance work: the real shapes of
 * the tinyllamas family with the Llama-2 32k vocabulary. Generation quality is meaningless; speed, memory
 * and file sizes are representative.
 */
import type { Checkpoint, LlamaShape, LlamaWeights } from './llama2c/checkpoint.ts';
import { kvDim, validateShape } from './llama2c/checkpoint.ts';
import { mulberry32 } from '../src/util/random.ts';

export const SYNTHETIC_PRESETS: Record<string, LlamaShape> = {
  'llama-15m': { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256, sharedClassifier: true },
  'llama-110m': { dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, seqLen: 1024, sharedClassifier: true },
};


export function syntheticCheckpoint(shape: LlamaShape, seed = 1): Checkpoint {
  validateShape(shape, 'synthetic preset');
  const rand = mulberry32(seed);
  // Uniform with the variance of a 1/sqrt(fan_in) initialisation keeps activations in a realistic range.
  const matrix = (rows: number, cols: number): Float32Array => {
    const a = Math.sqrt(3 / cols);
    const m = new Float32Array(rows * cols);
    for (let i = 0; i < m.length; i++) m[i] = (rand() * 2 - 1) * a;
    return m;
  };
  const ones = (): Float32Array => new Float32Array(shape.dim).fill(1);
  const layers = <T>(make: () => T): T[] => Array.from({ length: shape.nLayers }, make);
  const kv = kvDim(shape);
  const tokenEmbedding = matrix(shape.vocabSize, shape.dim);
  const weights: LlamaWeights = {
    tokenEmbedding,
    rmsAtt: layers(ones),
    wq: layers(() => matrix(shape.dim, shape.dim)),
    wk: layers(() => matrix(kv, shape.dim)),
    wv: layers(() => matrix(kv, shape.dim)),
    wo: layers(() => matrix(shape.dim, shape.dim)),
    rmsFfn: layers(ones),
    w1: layers(() => matrix(shape.hiddenDim, shape.dim)),
    w2: layers(() => matrix(shape.dim, shape.hiddenDim)),
    w3: layers(() => matrix(shape.hiddenDim, shape.dim)),
    rmsFinal: ones(),
    classifier: tokenEmbedding,
  };
  return { shape, weights };
}
