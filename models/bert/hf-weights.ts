/**
 * A Hugging Face BertModel checkpoint (config.json + model.safetensors, e.g. sentence-transformers'
 * all-MiniLM-L6-v2) as the converter's BertShape and BertWeights. Tensor names are transformers'
 * (`encoder.layer.N.attention.self.query.weight`, …), with or without the `bert.` prefix that task
 * models add. nn.Linear already stores [out, in], the layout BertWeights uses.
 */
import type { Safetensors } from '../safetensors.ts';
import { BERT_LAYER_NORM_EPS, type BertLayerWeights, type BertShape, type BertWeights } from './weights.ts';

export class BertConfigError extends Error {
  override name = 'BertConfigError';
}

/** The shape from config.json; refuses what the converter's graph does not implement. */
export function bertShapeFromConfig(config: Record<string, unknown>, where = 'config.json'): BertShape {
  const int = (key: string): number => {
    const v = config[key];
    if (!Number.isInteger(v) || (v as number) <= 0) throw new BertConfigError(`${where}: ${key} is ${JSON.stringify(v)}, expected a positive integer`);
    return v as number;
  };
  const expect = (key: string, allowed: unknown[], fallback: unknown): void => {
    const v = config[key] ?? fallback;
    if (!allowed.includes(v)) throw new BertConfigError(`${where}: ${key} ${JSON.stringify(v)} is not supported (supported: ${allowed.map((a) => JSON.stringify(a)).join(', ')})`);
  };
  expect('model_type', ['bert'], undefined);
  expect('hidden_act', ['gelu'], 'gelu');
  expect('position_embedding_type', ['absolute'], 'absolute');
  expect('layer_norm_eps', [BERT_LAYER_NORM_EPS], BERT_LAYER_NORM_EPS);
  const shape: BertShape = {
    hidden: int('hidden_size'),
    intermediate: int('intermediate_size'),
    layers: int('num_hidden_layers'),
    heads: int('num_attention_heads'),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: int('type_vocab_size'),
  };
  if (shape.hidden % shape.heads !== 0) throw new BertConfigError(`${where}: hidden_size ${shape.hidden} is not divisible by num_attention_heads ${shape.heads}`);
  return shape;
}

export function bertWeightsFromSafetensors(st: Safetensors, shape: BertShape): BertWeights {
  const prefix = st.tensors.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
  const { hidden: h, intermediate: i } = shape;
  const t = (name: string, dims: number[]): Float32Array => st.floats(`${prefix}${name}`, dims);
  const layer = (l: number): BertLayerWeights => {
    const p = `encoder.layer.${l}`;
    return {
      wq: t(`${p}.attention.self.query.weight`, [h, h]),
      bq: t(`${p}.attention.self.query.bias`, [h]),
      wk: t(`${p}.attention.self.key.weight`, [h, h]),
      bk: t(`${p}.attention.self.key.bias`, [h]),
      wv: t(`${p}.attention.self.value.weight`, [h, h]),
      bv: t(`${p}.attention.self.value.bias`, [h]),
      wo: t(`${p}.attention.output.dense.weight`, [h, h]),
      bo: t(`${p}.attention.output.dense.bias`, [h]),
      attnNormGamma: t(`${p}.attention.output.LayerNorm.weight`, [h]),
      attnNormBeta: t(`${p}.attention.output.LayerNorm.bias`, [h]),
      w1: t(`${p}.intermediate.dense.weight`, [i, h]),
      b1: t(`${p}.intermediate.dense.bias`, [i]),
      w2: t(`${p}.output.dense.weight`, [h, i]),
      b2: t(`${p}.output.dense.bias`, [h]),
      ffnNormGamma: t(`${p}.output.LayerNorm.weight`, [h]),
      ffnNormBeta: t(`${p}.output.LayerNorm.bias`, [h]),
    };
  };
  return {
    wordEmbeddings: t('embeddings.word_embeddings.weight', [shape.vocabSize, h]),
    positionEmbeddings: t('embeddings.position_embeddings.weight', [shape.maxPositions, h]),
    tokenTypeEmbeddings: t('embeddings.token_type_embeddings.weight', [shape.typeVocabSize, h]),
    embNormGamma: t('embeddings.LayerNorm.weight', [h]),
    embNormBeta: t('embeddings.LayerNorm.bias', [h]),
    layers: Array.from({ length: shape.layers }, (_, l) => layer(l)),
  };
}
