/**
 * The engine's API: the one list of what it does, implemented by Engine and called by SlmClient, on
 * the page or across the worker (where every method returns a promise and callbacks are proxies).
 * Arguments and results are structured-clone safe; a request id stands in for an AbortSignal across
 * the worker.
 */
import type { RuntimeEnv } from '../env.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../openai/types.ts';
import type { SearchHit } from '../search/document-store.ts';
import type { SkillDefinition } from '../skills/service.ts';
import type { SealedSkill } from '../skills/skill.ts';
import type { CachedModel } from '../storage/weight-cache.ts';
import type { ExtractOptions, ExtractionResult, GenerateOptions, GenerationResult, LoadOptions, ModelInfo, ProgressEvent, StorageUsage } from '../types.ts';
import type { FineTuneExample, FineTuneOptions, FineTuneProgress, FineTuneReport } from '../training/fine-tune.ts';
import type { ClassifierHead, TrainingReport, TrainOptions, TrainProgress } from './tasks/classify.ts';

/** How a call can be cancelled: the caller's signal (in-page) or a request id for abort() (across a worker). */
export interface RequestOptions {
  requestId?: string;
  signal?: AbortSignal;
}

export type TrainingProgress = TrainProgress & { phase: 'features' | 'training'; done?: number; total?: number };

export interface EngineApi {
  configure(env: Partial<RuntimeEnv>): void;
  /** Aborts the load or task started with this request id (no-op if it already finished). */
  abort(requestId: string): void;

  load(model: string, options?: Omit<LoadOptions, 'onProgress' | 'signal'> & RequestOptions, onProgress?: (e: ProgressEvent) => void): Promise<ModelInfo>;
  info(handle: string): ModelInfo;
  list(): ModelInfo[];
  /** Frees the model's session; a task in progress on it is aborted first. */
  unload(handle: string): Promise<void>;

  /** Generates a continuation of `prompt`; `onText` receives the text as it is produced. */
  generate(handle: string, prompt: string, options?: Omit<GenerateOptions, 'signal'> & RequestOptions, onText?: (chunk: string) => void): Promise<GenerationResult>;
  /** OpenAI-compatible chat completion; with `stream: true`, `onChunk` receives every chunk before this resolves. */
  chatCompletion(handle: string, request: ChatCompletionRequest, options?: RequestOptions, onChunk?: (chunk: ChatCompletionChunk) => void | Promise<void>): Promise<ChatCompletion>;
  /** A JSON value valid for `schema`, extracted from `text` by constrained decoding. */
  extract(handle: string, text: string, schema: unknown, options?: Omit<ExtractOptions, 'signal'> & RequestOptions): Promise<ExtractionResult>;

  embed(handle: string, texts: string[], options?: RequestOptions): Promise<Float32Array[]>;
  classifyZeroShot(handle: string, text: string, labels: string[], options?: RequestOptions): Promise<Record<string, number>>;
  /** `onProgress` reports features and epochs; the last report is delivered before the result. */
  trainClassifier(handle: string, examples: Array<{ text: string; label: string }>, options?: TrainOptions & RequestOptions, onProgress?: (p: TrainingProgress) => void | Promise<void>): Promise<TrainingReport>;
  /** Trains a LoRA adapter named `options.name` on the examples; the model generates with it when a call names it. */
  fineTune(handle: string, examples: FineTuneExample[], options: Omit<FineTuneOptions, 'signal' | 'onProgress'> & RequestOptions, onProgress?: (p: FineTuneProgress) => void | Promise<void>): Promise<FineTuneReport>;
  classify(handle: string, head: ClassifierHead, text: string, options?: RequestOptions): Promise<Record<string, number>>;

  saveSkill(handle: string, definition: SkillDefinition): Promise<SealedSkill>;
  listSkills(): Promise<SealedSkill[]>;
  deleteSkill(name: string): Promise<void>;
  exportSkill(name: string): Promise<string>;
  importSkill(file: string): Promise<SealedSkill>;
  runSkill(handle: string, name: string, input: string, options?: RequestOptions): Promise<unknown>;

  indexDocuments(handle: string, collection: string, docs: Array<{ id: string; text: string }>, options?: RequestOptions): Promise<number>;
  search(handle: string, collection: string, query: string, k?: number, options?: RequestOptions): Promise<SearchHit[]>;
  deleteCollection(collection: string): Promise<void>;

  cachedModels(): Promise<CachedModel[]>;
  deleteCachedModel(key: string): Promise<void>;
  clearCache(): Promise<void>;
  storageUsage(): Promise<StorageUsage>;
}
