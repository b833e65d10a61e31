/** The Llama family (llama2.c checkpoints, GGUF `llama`: SmolLM2, TinyLlama…): RMSNorm, SiLU-gated FFN, GQA, RoPE. */
import type { Architecture } from './index.ts';
import { buildConfig, buildGenerationConfig } from '../hf/config.ts';
import { buildLlamaGraph, type GraphOptions } from '../onnx/llama.ts';
import type { WeightDtype } from '../onnx/linear.ts';
import { ggufNumber, type GgufFile } from '../gguf/reader.ts';
import { shortestFloat32, type DecoderModel, type DecoderSpec } from '../spec.ts';

/** Hyper-parameters from the `llama.*` keys (names as llama.cpp's convert_hf_to_gguf writes them). */
function ggufSpec(file: GgufFile, vocabSize: number, label: string): DecoderSpec {
  const { num, common } = ggufCommon(file, 'llama', vocabSize, label);
  const ropeTheta = num('rope.freq_base', 10000);
  return {
    ...common,
    architecture: 'llama',
    headSize: num('rope.dimension_count', common.dim / common.nHeads),
    activation: 'silu',
    layers: Array.from({ length: common.nLayers }, () => ({ attention: 'global', window: null, ropeTheta })),
    tokens: ggufTokens(file, label),
  };
}

type CommonSpec = Pick<DecoderSpec, 'dim' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'vocabSize' | 'contextLength' | 'norm' | 'tiedEmbeddings'>;

/** The hyper-parameters every GGUF decoder records under `<arch>.*` the same way, and a reader for the rest. */
export function ggufCommon(file: GgufFile, arch: string, vocabSize: number, label: string): { num: (key: string, fallback?: number) => number; common: CommonSpec } {
  const num = (key: string, fallback?: number): number => ggufNumber(file, `${arch}.${key}`, label, fallback);
  const nHeads = num('attention.head_count');
  return {
    num,
    common: {
      dim: num('embedding_length'),
      hiddenDim: num('feed_forward_length'),
      nLayers: num('block_count'),
      nHeads,
      nKvHeads: num('attention.head_count_kv', nHeads),
      vocabSize,
      contextLength: num('context_length'),
      norm: { kind: 'rms', eps: shortestFloat32(num('attention.layer_norm_rms_epsilon')) },
      tiedEmbeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    },
  };
}

/** Special token ids from the `tokenizer.ggml.*_token_id` keys (bos/eos default to SentencePiece's 1/2). */
export function ggufTokens(file: GgufFile, label: string): DecoderSpec['tokens'] {
  const token = (name: string): number | undefined => (file.metadata[`tokenizer.ggml.${name}_token_id`] === undefined ? undefined : ggufNumber(file, `tokenizer.ggml.${name}_token_id`, label));
  return { bos: token('bos') ?? 1, eos: token('eos') ?? 2, ...(token('padding') !== undefined && { pad: token('padding') }), ...(token('unknown') !== undefined && { unk: token('unknown') }) };
}

/**
 * Graph choices for a model converted from already-quantized (GGUF) blocks, measured in onnxruntime-web
 * 1.30's WASM build (scripts/wasm-variants.ts, SmolLM2): MatMul attention prefills 1.2-1.9× faster than
 * its GroupQueryAttention at the same decode speed and the same top-1 predictions; q4f16 keeps
 * GroupQueryAttention for WebGPU.
 */
export function wasmGraphOptions(model: DecoderModel, dtype: WeightDtype, options: GraphOptions = {}): GraphOptions {
  return model.weights.blocks && dtype !== 'q4f16' ? { ...options, matmulAttention: true } : options;
}

export const LLAMA: Architecture = {
  graph: (model, dtype, producerVersion, options) => buildLlamaGraph(model, dtype, producerVersion, wasmGraphOptions(model, dtype, options)),
  config: buildConfig,
  generationConfig: buildGenerationConfig,
  ggufSpec,
};
