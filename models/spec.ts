/**
 * The neutral description of a decoder that every reader produces and every writer consumes:
 * readers (llama2c/, gguf/) turn a source file into a DecoderModel; writers (onnx/ per architecture,
 * hf/config, gguf/writer) turn a DecoderModel into files. Nothing here knows a file format.
 *
 * Weights use llama.cpp's tensor names (token_embd, blk.N.attn_q, ...; the de-facto neutral naming
 * across architectures), as float32 matrices stored [out, in] row-major. Q/K rows are in the
 * RoPE order the spec's `rope` names: interleaved (pairs (0,1), (2,3)… of each head, as llama2.c and GGUF
 * store Llama's) unless it says 'halves'.
 */
import type { NBitsWeight } from './onnx/quantize.ts';

export interface LayerSpec {
  /** 'global': attends to every earlier position; 'sliding': only to the last `window` ones. */
  attention: 'global' | 'sliding';
  window: number | null;
  ropeTheta: number;
}

export interface DecoderSpec {
  /** Key of the architecture registry (models/architectures). */
  architecture: string;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  vocabSize: number;
  contextLength: number;
  norm: { kind: 'rms'; eps: number };
  /** FFN gate activation: SiLU (Llama) or GELU with the tanh approximation (Gemma). */
  activation: 'silu' | 'gelu_tanh';
  /** Token embeddings are multiplied by this before the first layer (Gemma: √dim); absent means 1. */
  embeddingScale?: number;
  /** Multiplier of the attention scores q·k; absent means 1/√headSize. */
  attentionScale?: number;
  /** Which dimensions of a head RoPE rotates together: (2i, 2i+1), or (i, i + headSize/2) (NeoX, Gemma); absent means interleaved. */
  rope?: 'interleaved' | 'halves';
  /** RMSNorm over each head of Q and K before RoPE (tensors attn_q_norm, attn_k_norm). */
  qkNorm?: boolean;
  /** RMSNorm on the attention and FFN outputs before they join the residual (post_attention_norm, post_ffw_norm). */
  postNorms?: boolean;
  layers: LayerSpec[];
  /** `stop`: every id that ends generation (EOS and end-of-turn tokens) when there is more than `eos`. */
  tokens: { bos: number; eos: number; pad?: number; unk?: number; stop?: number[] };
  /** The LM head is the token embedding (no `output.weight`). */
  tiedEmbeddings: boolean;
}

export interface DecoderWeights {
  /** The tensor under its standard name; throws when the model has none of that name. */
  get(name: string): Float32Array;
  /**
   * The matrix exactly as MatMulNBits blocks of at most `maxBits` (at the source's own width), when
   * the source already stores it quantized in a form that converts without loss (GGUF Q4_0, Q4_1,
   * Q8_0); null otherwise.
   */
  blocks?(name: string, maxBits: 4 | 8): NBitsWeight | null;
  /** Bits per value the source stores the tensor in (block scales included: Q4_K 4.5, Q6_K 6.6); absent for float sources. */
  sourceBitsPerValue?(name: string): number;
}

export interface DecoderModel {
  spec: DecoderSpec;
  weights: DecoderWeights;
}

export const kvDim = (s: DecoderSpec): number => s.nKvHeads * s.headSize;
export const qDim = (s: DecoderSpec): number => s.nHeads * s.headSize;

/** Standard tensor names. */
export const W = {
  embedding: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
  layer: (
    l: number,
    t: 'attn_norm' | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_q_norm' | 'attn_k_norm' | 'attn_output' | 'post_attention_norm' | 'ffn_norm' | 'ffn_gate' | 'ffn_up' | 'ffn_down' | 'post_ffw_norm',
  ) => `blk.${l}.${t}.weight`,
} as const;

/** The shortest decimal that rounds to the same float32: 1e-5, not 9.999999747378752e-06. */
export function shortestFloat32(x: number): number {
  for (let p = 1; p < 17; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === Math.fround(x)) return v;
  }
  return x;
}

/** Weights held in a map; asking for a missing name says which model lacks it. */
export function mapWeights(tensors: Map<string, Float32Array>, label: string): DecoderWeights {
  return {
    get(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${label} has no tensor ${name}`);
      return t;
    },
  };
}
