/** config.json and generation_config.json in the Hugging Face layout: the fields every decoder shares, and Llama's. */
import { shortestFloat32, type DecoderSpec } from '../spec.ts';

/** config.json fields that mean the same in every decoder architecture transformers(.js) reads. */
export function commonConfig(s: DecoderSpec): object {
  return {
    hidden_size: s.dim,
    intermediate_size: s.hiddenDim,
    num_hidden_layers: s.nLayers,
    num_attention_heads: s.nHeads,
    num_key_value_heads: s.nKvHeads,
    head_dim: s.headSize,
    vocab_size: s.vocabSize,
    max_position_embeddings: s.contextLength,
    rms_norm_eps: shortestFloat32(s.norm.eps),
    attention_bias: false,
    tie_word_embeddings: s.tiedEmbeddings,
    bos_token_id: s.tokens.bos,
    eos_token_id: s.tokens.stop ?? s.tokens.eos,
    ...(s.tokens.pad !== undefined && { pad_token_id: s.tokens.pad }),
    torch_dtype: 'float32',
    use_cache: true,
  };
}

export function buildConfig(s: DecoderSpec): object {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...commonConfig(s),
    hidden_act: s.activation,
    rope_theta: s.layers[0]!.ropeTheta,
    rope_scaling: null,
    mlp_bias: false,
  };
}

export function buildGenerationConfig(s: DecoderSpec): object {
  return {
    bos_token_id: s.tokens.bos,
    eos_token_id: s.tokens.stop ?? s.tokens.eos,
    ...(s.tokens.pad !== undefined && { pad_token_id: s.tokens.pad }),
    max_length: s.contextLength,
    do_sample: false,
  };
}
