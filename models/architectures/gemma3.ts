/**
 * Gemma 3 text models (GGUF `gemma3`, e.g. Gemma 3 270M): Llama's skeleton plus an embedding scaled by
 * √width, RMSNorm of each Q/K head, norms after attention and after the FFN, a GELU-tanh gated FFN,
 * rotate-halves RoPE, and local sliding-window layers (own RoPE base) between every sixth, global, layer.
 */
import type { Architecture } from './index.ts';
import { ggufCommon, ggufTokens } from './llama.ts';
import { buildGenerationConfig, commonConfig } from '../hf/config.ts';
import { buildGemma3Graph } from '../onnx/gemma3.ts';
import { GgufError, type GgufFile, type GgufValue } from '../gguf/reader.ts';
import type { DecoderSpec } from '../spec.ts';

/** Gemma 3's layout, which GGUF does not record: layers 5, 11, 17… are global, the rest local with RoPE base 10,000. */
const GLOBAL_EVERY = 6;
const LOCAL_ROPE_BASE = 10000;

function ggufSpec(file: GgufFile, vocabSize: number, label: string): DecoderSpec {
  const { num, common } = ggufCommon(file, 'gemma3', vocabSize, label);
  const { dim, nLayers } = common;
  const headSize = num('attention.key_length'); // not width / heads in Gemma (640 / 4 ≠ 256)
  const window = num('attention.sliding_window');
  const globalTheta = num('rope.freq_base', 1e6);
  const tokens = file.metadata['tokenizer.ggml.tokens'];
  const endOfTurn = Array.isArray(tokens) ? (tokens as GgufValue[]).indexOf('<end_of_turn>') : -1;
  if (endOfTurn < 0) throw new GgufError(`${label}: the vocabulary has no <end_of_turn> token`);
  const special = ggufTokens(file, label);
  return {
    ...common,
    architecture: 'gemma3',
    headSize,
    activation: 'gelu_tanh',
    // llama.cpp scales scores by 1/√head_size for every size but 27B (query_pre_attn_scalar = head_dim).
    attentionScale: 1 / Math.sqrt(headSize),
    embeddingScale: Math.sqrt(dim),
    rope: 'halves',
    qkNorm: true,
    postNorms: true,
    layers: Array.from({ length: nLayers }, (_, l) =>
      (l + 1) % GLOBAL_EVERY === 0 ? { attention: 'global', window: null, ropeTheta: globalTheta } : { attention: 'sliding', window, ropeTheta: LOCAL_ROPE_BASE },
    ),
    tokens: { ...special, stop: [special.eos, endOfTurn] },
  };
}

/** config.json as transformers (Gemma3TextConfig) and transformers.js (`gemma3_text`) read it. */
function config(s: DecoderSpec): object {
  const local = s.layers.find((l) => l.attention === 'sliding');
  const global = s.layers.find((l) => l.attention === 'global');
  return {
    architectures: ['Gemma3ForCausalLM'],
    model_type: 'gemma3_text',
    ...commonConfig(s),
    hidden_activation: 'gelu_pytorch_tanh',
    rope_theta: global?.ropeTheta ?? local!.ropeTheta,
    rope_local_base_freq: local?.ropeTheta ?? global!.ropeTheta,
    rope_scaling: null,
    sliding_window: local?.window ?? null,
    sliding_window_pattern: GLOBAL_EVERY,
    layer_types: s.layers.map((l) => (l.attention === 'sliding' ? 'sliding_attention' : 'full_attention')),
    query_pre_attn_scalar: Math.round(1 / (s.attentionScale ?? 1 / Math.sqrt(s.headSize)) ** 2),
    attn_logit_softcapping: null,
    final_logit_softcapping: null,
    attention_dropout: 0,
  };
}

export const GEMMA3: Architecture = { graph: buildGemma3Graph, config, generationConfig: buildGenerationConfig, ggufSpec };
