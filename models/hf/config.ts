/** config.json and generation_config.json in the Hugging Face Llama layout. */
import { headSize, type LlamaShape } from '../llama2c/checkpoint.ts';
import { RMS_EPS } from '../onnx/llama.ts';

export function buildConfig(s: LlamaShape): object {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.dim,
    intermediate_size: s.hiddenDim,
    num_hidden_layers: s.nLayers,
    num_attention_heads: s.nHeads,
    num_key_value_heads: s.nKvHeads,
    head_dim: headSize(s),
    vocab_size: s.vocabSize,
    max_position_embeddings: s.seqLen,
    hidden_act: 'silu',
    rms_norm_eps: RMS_EPS,
    rope_theta: 10000,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: s.sharedClassifier,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

export function buildGenerationConfig(s: LlamaShape): object {
  return { bos_token_id: 1, eos_token_id: 2, max_length: s.seqLen, do_sample: false };
}
