/** What a loaded model is, for the engine and the tasks: a decoder (every task) or an encoder (embeddings), and how it is described to callers. */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Dtype } from '../../model-format.ts';
import type { LoadTimings, ModelInfo } from '../../types.ts';
import type { Encoder } from '../encoder.ts';
import type { Decoder } from '../generation/decoder.ts';

interface LoadedCommon {
  url: string;
  dtype: Dtype;
  /** Why this dtype: requested, or what 'auto' found. */
  dtypeReason: string;
  tokenizer: PreTrainedTokenizer;
  backendReason: string;
  fellBack: boolean;
  weightBytes: number;
  storage: ModelInfo['storage'];
  timings: LoadTimings;
}

/** A causal LM: generation, chat, extraction, zero-shot scoring and embeddings from its hidden states. */
export interface LoadedDecoder extends LoadedCommon {
  kind: 'decoder';
  decoder: Decoder;
  eosIds: Set<number>;
  /** Another file of the model's folder (the training graph), verified and cached like the weights. */
  readFile(path: string, signal: AbortSignal): Promise<Uint8Array>;
  /** Moves the model to the next backend after a run failed on this one (`message` says how). */
  fallBack(message: string): Promise<void>;
}

/** An encoder-only model: embeddings, trained classifiers and search. */
export interface LoadedEncoder extends LoadedCommon {
  kind: 'encoder';
  encoder: Encoder;
}

export type LoadedModel = LoadedDecoder | LoadedEncoder;

/** What the caller learns about a loaded model (ModelInfo): backend and why, sizes, storage, timings. */
export function describeModel(handle: string, model: string, loaded: LoadedModel): ModelInfo {
  const { backend, contextLength, vocabSize } = loaded.kind === 'decoder' ? { backend: loaded.decoder.backend, ...loaded.decoder.shape } : loaded.encoder;
  return {
    handle,
    model,
    kind: loaded.kind,
    url: loaded.url,
    dtype: loaded.dtype,
    dtypeReason: loaded.dtypeReason,
    backend: backend.name,
    backendReason: loaded.backendReason,
    fellBack: loaded.fellBack,
    threads: backend.threads,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    contextLength,
    vocabSize,
    weightBytes: loaded.weightBytes,
    storage: loaded.storage,
    load: loaded.timings,
    ...(backend.adapter && { adapter: backend.adapter }),
  };
}
