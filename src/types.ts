/** Public types of the runtime: what an embedder passes in and gets back. All are structured-clone safe. */

import type { Dtype, ModelKind } from './model-format.ts';

export type { Dtype, ModelKind };
export type DeviceRequest = 'auto' | 'webgpu' | 'wasm';
export type Backend = 'webgpu' | 'wasm';

export type LoadPhase = 'fetch' | 'compile' | 'warmup' | 'ready';

/** Where a file's bytes came from: this tab's download, the IndexedDB cache, or another tab's download (waited for). */
export type ByteSource = 'network' | 'cache' | 'other-tab';

export interface ProgressEvent {
  phase: LoadPhase;
  /** File being fetched (fetch phase). */
  file?: string;
  source?: ByteSource;
  /** Bytes of `file` from `source` so far (monotonic for a file and source), and its size when known. */
  loaded?: number;
  total?: number;
  /** Bytes of all files this tab received from the network so far (monotonic). */
  networkBytes: number;
  /** Bytes of all files read from the cache so far (monotonic). */
  cacheBytes: number;
  /** networkBytes + cacheBytes, and the expected total when the manifest gives it. */
  totalLoaded: number;
  totalBytes?: number;
}

/** Finished sequences a model keeps (0: none, every call starts cold) and the KV bytes they may hold together. */
export interface KvCacheLimits {
  maxSequences: number;
  maxBytes: number;
}

export interface LoadOptions {
  dtype?: Dtype;
  device?: DeviceRequest;
  /** WASM threads; default 1 (fastest on small models in our measurements, see README). */
  threads?: number;
  /** Revision for Hub repo ids. */
  revision?: string;
  /** Store the files in the IndexedDB cache (default true); false downloads into memory only. */
  cache?: boolean;
  /** When the cache has no room for the model, run from memory instead of failing with QuotaExceededError. */
  memoryFallback?: boolean;
  /** Ask the server for the model's manifest even when a cached revision exists (to pick up updates). */
  revalidate?: boolean;
  /** How many finished sequences' KV caches the model keeps for prompts that start with them (see README). */
  kvCache?: Partial<KvCacheLimits>;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** End-of-sequence is not allowed before this many new tokens (default 0). */
  minNewTokens?: number;
  /** 0 means greedy decoding (the default). */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Seed for sampling; the same seed, prompt and options give the same text. */
  seed?: number;
  /** Generation ends before the first occurrence of any of these strings (not included in the output). */
  stop?: string[];
  /** Name of a LoRA adapter made by fineTune (or an adapter skill run) to generate with; default none (the base model). */
  adapter?: string;
  signal?: AbortSignal;
}

export interface LoadTimings {
  /** Fetching (and verifying) model files, ms. */
  fetchMs: number;
  /** Creating the inference session (graph optimisation, kernel and shader compilation), ms. */
  compileMs: number;
  /** The first run that validates the backend, ms. */
  warmupMs: number;
  totalMs: number;
}

export interface ModelInfo {
  handle: string;
  model: string;
  /** 'decoder': a causal LM (every task); 'encoder': an encoder-only Hub model (embeddings, trained classifiers, search). */
  kind: ModelKind;
  /** Folder the files came from. */
  url: string;
  dtype: Dtype;
  backend: Backend;
  /** Why this backend: the probe result or the failure that caused a fallback. */
  backendReason: string;
  /** True when WebGPU was tried and the runtime fell back to WASM. */
  fellBack: boolean;
  /** WASM threads in effect (1 on WebGPU, where kernels run on the GPU). */
  threads: number;
  crossOriginIsolated: boolean;
  contextLength: number;
  vocabSize: number;
  weightBytes: number;
  /** Where the files are kept: the IndexedDB cache, or memory only (with the reason). */
  storage: { persistent: boolean; revision: string; reason?: string };
  load: LoadTimings;
  adapter?: string;
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'aborted';

export interface GenerationStats {
  promptTokens: number;
  /** Prompt tokens whose KV cache came from an earlier call (a shared prefix), not computed again. */
  reusedPromptTokens: number;
  generatedTokens: number;
  /** From the call until the first generated token is known, ms. */
  timeToFirstTokenMs: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  /** Tokens after the first, per second of decoding. */
  decodeTokensPerSecond: number;
  backend: Backend;
  /** Constrained generation on WASM: tokens drafted (forced by the schema, copied from the text) and how many of them the model then chose. */
  draftedTokens?: number;
  acceptedDraftTokens?: number;
}

export interface GenerationResult {
  text: string;
  tokenIds: number[];
  finishReason: FinishReason;
  stats: GenerationStats;
}

export interface StorageUsage {
  /** False when the cache works from memory (IndexedDB unavailable); `reason` says why. */
  persistent: boolean;
  reason?: string;
  /** Bytes of model files in the cache, complete and partial. */
  cachedBytes: number;
  /** navigator.storage.estimate() for the whole origin. */
  usage?: number;
  quota?: number;
  budgetBytes?: number;
}

export interface ExtractOptions extends Omit<GenerateOptions, 'stop'> {
  /**
   * Check drafted tokens in one model run: bytes the schema forces (jump-forward) and text copied
   * from the input (prompt lookup). The output is the same either way; default true.
   */
  lookahead?: boolean;
}

export interface ExtractionResult {
  /** The parsed JSON value; it validates against the schema given. */
  value: unknown;
  /** The JSON text as generated. */
  text: string;
  stats: GenerationStats;
}
