/**
 * Builds a BERT encoder graph with the signature optimum exports and transformers.js feature extraction
 * runs for `model_type: "bert"`: inputs input_ids, attention_mask, token_type_ids ([batch, sequence],
 * int64); output last_hidden_state. Standard ONNX ops only (LayerNormalization, Erf-based GELU, which
 * ONNX Runtime fuses), so every execution provider runs it; linear layers as in linear.ts.
 */
import { BERT_LAYER_NORM_EPS, type BertShape, type BertWeights } from '../bert/weights.ts';
import { embeddingLookup } from './embedding.ts';
import { GraphBuilder } from './graph.ts';
import { BITS, linear, type WeightDtype } from './linear.ts';

export interface BuiltEncoderGraph {
  bytes: Uint8Array;
  nodeCount: number;
  linearWeightBytes: number;
}

export function buildBertGraph(shape: BertShape, w: BertWeights, dtype: WeightDtype, producerVersion: string): BuiltEncoderGraph {
  const g = new GraphBuilder();
  const bits = BITS[dtype];
  const { hidden: h, heads } = shape;
  const hs = h / heads;
  let linearWeightBytes = 0;
  const dense = (name: string, x: string, weight: Float32Array, b: Float32Array, n: number, k: number): string => {
    const { y, weightBytes } = linear(g, name, x, weight, n, k, bits);
    linearWeightBytes += weightBytes;
    return g.op('Add', `${name}/bias`, [y, g.initializer(`${name}.bias`, 'float32', [n], b)]);
  };
  const layerNorm = (name: string, x: string, gamma: Float32Array, beta: Float32Array): string =>
    g.op('LayerNormalization', name, [x, g.initializer(`${name}.weight`, 'float32', [h], gamma), g.initializer(`${name}.bias`, 'float32', [h], beta)], {
      axis: -1,
      epsilon: { float: BERT_LAYER_NORM_EPS },
    });

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', 'int64', ['batch_size', 'sequence_length']);
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', h]);

  // Embeddings: word + position (0 … sequence_length − 1) + token type, then LayerNorm.
  const word = embeddingLookup(g, '/embeddings/word', 'embeddings.word_embeddings.weight', w.wordEmbeddings, shape.vocabSize, h, inputIds, bits !== null);
  const seqLen = g.op('Gather', '/embeddings/seq_len', [g.op('Shape', '/embeddings/ids_shape', [inputIds]), g.int64s([1], true)], { axis: 0 });
  const positions = g.op('Range', '/embeddings/positions', [g.int64s([0], true), seqLen, g.int64s([1], true)]);
  const position = g.op('Gather', '/embeddings/position', [g.initializer('embeddings.position_embeddings.weight', 'float32', [shape.maxPositions, h], w.positionEmbeddings), positions], { axis: 0 });
  const tokenType = g.op('Gather', '/embeddings/token_type', [g.initializer('embeddings.token_type_embeddings.weight', 'float32', [shape.typeVocabSize, h], w.tokenTypeEmbeddings), tokenTypeIds], { axis: 0 });
  const summed = g.op('Add', '/embeddings/sum_type', [g.op('Add', '/embeddings/sum_position', [word, position]), tokenType]);
  let x = layerNorm('/embeddings/LayerNorm', summed, w.embNormGamma, w.embNormBeta);

  // [batch, 1, 1, sequence] additive mask: padding keys get −1e9 (0 elsewhere).
  const valid = g.op('Unsqueeze', '/attn_mask/valid', [g.op('Cast', '/attn_mask/bool', [attentionMask], { to: 9 }), g.int64s([1, 2])]);
  const maskBias = g.op('Where', '/attn_mask/bias', [valid, g.float(0), g.float(-1e9)]);

  const toHeads = (name: string, t: string, perm: number[]): string =>
    g.op('Transpose', `${name}_heads`, [g.op('Reshape', `${name}_split`, [t, g.int64s([0, 0, heads, hs])])], { perm });
  for (let l = 0; l < shape.layers; l++) {
    const p = `/encoder/layer.${l}`;
    const lw = w.layers[l]!;
    // The 1/√head_size score scale is folded into the query weights and bias.
    const scale = 1 / Math.sqrt(hs);
    const q = toHeads(`${p}/attention/q`, dense(`${p}/attention/query`, x, lw.wq.map((v) => v * scale), lw.bq.map((v) => v * scale), h, h), [0, 2, 1, 3]);
    const kT = toHeads(`${p}/attention/k`, dense(`${p}/attention/key`, x, lw.wk, lw.bk, h, h), [0, 2, 3, 1]);
    const v = toHeads(`${p}/attention/v`, dense(`${p}/attention/value`, x, lw.wv, lw.bv, h, h), [0, 2, 1, 3]);
    const scores = g.op('Add', `${p}/attention/masked`, [g.op('MatMul', `${p}/attention/scores`, [q, kT]), maskBias]);
    const probs = g.op('Softmax', `${p}/attention/softmax`, [scores], { axis: -1 });
    const context = g.op('Transpose', `${p}/attention/context_t`, [g.op('MatMul', `${p}/attention/context`, [probs, v])], { perm: [0, 2, 1, 3] });
    const merged = g.op('Reshape', `${p}/attention/merge_heads`, [context, g.int64s([0, 0, h])]);
    const attnOut = dense(`${p}/attention/output`, merged, lw.wo, lw.bo, h, h);
    x = layerNorm(`${p}/attention/LayerNorm`, g.op('Add', `${p}/attention/residual`, [attnOut, x]), lw.attnNormGamma, lw.attnNormBeta);

    const up = dense(`${p}/intermediate`, x, lw.w1, lw.b1, shape.intermediate, h);
    // GELU(u) = u · (1 + erf(u / √2)) / 2, the exact form BERT uses.
    const erf = g.op('Erf', `${p}/gelu/erf`, [g.op('Mul', `${p}/gelu/scaled`, [up, g.float(Math.SQRT1_2)])]);
    const gelu = g.op('Mul', `${p}/gelu/out`, [g.op('Mul', `${p}/gelu/half`, [up, g.float(0.5)]), g.op('Add', `${p}/gelu/one_plus`, [erf, g.float(1)])]);
    const down = dense(`${p}/output`, gelu, lw.w2, lw.b2, h, shape.intermediate);
    x = layerNorm(`${p}/output/LayerNorm`, g.op('Add', `${p}/output/residual`, [down, x]), lw.ffnNormGamma, lw.ffnNormBeta);
  }
  g.node('Identity', '/last_hidden_state', [x], ['last_hidden_state']);
  return { bytes: g.encode('bert', producerVersion, { '': 17, 'com.microsoft': 1 }), nodeCount: g.nodeCount, linearWeightBytes };
}
