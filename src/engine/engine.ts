/**
 * The runtime: loads models by handle and runs generation on them. It runs in a Web Worker behind
 * workers/engine.worker.ts, or on the page itself; every argument and result is structured-clone safe
 * and cancellation works by AbortSignal (in-page) or by request id (across the worker boundary).
 *
 * Generations on one model run one at a time in call order (a queue): a second call waits for the
 * first instead of failing, and an aborted call leaves the queue at once.
 */
import { defaultEnv, type RuntimeEnv } from '../env.ts';
import { AbortError, ContextOverflowError, InvalidArgumentError, ModelNotFoundError, ModelNotLoadedError, throwIfAborted, UnsupportedTaskError } from '../errors.ts';
import { WeightCache, type CachedModel } from '../storage/weight-cache.ts';
import type { ExtractOptions, ExtractionResult, FinishReason, GenerateOptions, GenerationResult, LoadOptions, ModelInfo, ProgressEvent, StorageUsage } from '../types.ts';
import { Sampler } from './generation/sampling.ts';
import { StopStringFilter, TokenTextStream } from './generation/text-stream.ts';
import { loadModel, type LoadedDecoder, type LoadedModel } from './load.ts';
import { chatGenerateOptions, chatPromptIds, validateMessages } from './tasks/chat.ts';
import { extractionPrompt, jsonSchemaConstraint, type Constraint } from './tasks/extract.ts';
import { Lookahead } from './tasks/json/lookahead.ts';
import { embed, predict, trainHead, zeroShot, type ClassifierHead, type TrainingReport, type TrainOptions, type TrainProgress } from './tasks/classify.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatFinishReason } from '../openai/types.ts';
import { configureTransformers } from './transformers-env.ts';
import type { TransformersCache } from '../storage/transformers-cache.ts';
import { openSealedSkill, sealSkill, SKILL_FORMAT, type SealedSkill, type Skill } from '../skills/skill.ts';
import { SkillStore } from '../skills/store.ts';
import { DocumentStore, topK, type SearchHit } from '../search/document-store.ts';

/** Options as they cross the worker boundary: a request id stands in for the AbortSignal. */
export interface RequestOptions {
  requestId?: string;
}

/** What a caller gives to save a skill; the model binding, format and date are filled in. */
export type SkillDefinition = Pick<Skill, 'name' | 'task'> & Partial<Pick<Skill, 'version' | 'description' | 'evaluation'>>;

interface Entry<L extends LoadedModel = LoadedModel> {
  model: string;
  loaded: L;
  queue: Promise<unknown>;
  unloaded: boolean;
  inFlight: AbortController | null;
}

export class Engine {
  private env: RuntimeEnv = defaultEnv(globalThis.location?.href ?? 'http://localhost/');
  private cache: Promise<WeightCache> | null = null;
  private skills: Promise<SkillStore> | null = null;
  private documents: Promise<DocumentStore> | null = null;
  private readonly models = new Map<string, Entry>();
  private readonly requests = new Map<string, AbortController>();
  private nextHandle = 1;
  private transformers: TransformersCache;

  constructor() {
    this.transformers = configureTransformers(this.env, () => this.weightCache());
  }

  configure(env: Partial<RuntimeEnv>): void {
    this.env = { ...this.env, ...env, cache: { ...this.env.cache, ...env.cache } };
    this.cache = null;
    this.skills = null;
    this.documents = null;
    this.transformers = configureTransformers(this.env, () => this.weightCache());
  }

  private skillStore(): Promise<SkillStore> {
    this.skills ??= this.weightCache().then((cache) => new SkillStore(cache.database));
    return this.skills;
  }

  private documentStore(): Promise<DocumentStore> {
    this.documents ??= this.weightCache().then((cache) => new DocumentStore(cache.database));
    return this.documents;
  }

  /** Which model revision produced a stored embedding: search only compares like with like. */
  private embeddingModel(entry: Entry): string {
    return `${entry.model}@${entry.loaded.storage.revision}`;
  }

  /** Saves a skill made with the model behind `handle` (bound to its id and revision); returns it sealed. */
  async saveSkill(handle: string, definition: SkillDefinition): Promise<SealedSkill> {
    const entry = this.entry(handle);
    const sealed = await sealSkill({
      format: SKILL_FORMAT,
      formatVersion: 1,
      version: 1,
      ...definition,
      model: { id: entry.model, revision: entry.loaded.storage.revision },
      created: new Date().toISOString(),
    });
    await (await this.skillStore()).save(sealed);
    return sealed;
  }

  async listSkills(): Promise<SealedSkill[]> {
    return (await this.skillStore()).list();
  }

  async deleteSkill(name: string): Promise<void> {
    await (await this.skillStore()).delete(name);
  }

  /** The skill as one JSON file (content plus its SHA-256). */
  async exportSkill(name: string): Promise<string> {
    const skill = await (await this.skillStore()).get(name);
    if (!skill) throw new InvalidArgumentError(`no skill named ${JSON.stringify(name)}`);
    return `${JSON.stringify(skill, null, 2)}\n`;
  }

  /**
   * Imports an exported skill file: its seal must match (IntegrityError otherwise) and the model it
   * names must be loaded or cached here (ModelNotFoundError otherwise).
   */
  async importSkill(file: string): Promise<SealedSkill> {
    const skill = await openSealedSkill(file);
    const { id, revision } = skill.model;
    const loaded = [...this.models.values()].some((e) => e.model === id && e.loaded.storage.revision === revision);
    const cached = (await (await this.weightCache()).list()).some((m) => m.id === id && m.revision === revision);
    if (!loaded && !cached) {
      throw new ModelNotFoundError(`the skill "${skill.name}" needs model "${id}" at revision ${revision}; load that model first`, { details: { model: id, revision } });
    }
    await (await this.skillStore()).save(skill);
    return skill;
  }

  /** Runs a saved skill on the model behind `handle`, which must be the model the skill was made with. */
  async runSkill(handle: string, name: string, input: string, options: RequestOptions & { signal?: AbortSignal } = {}): Promise<unknown> {
    const entry = this.entry(handle);
    const skill = await (await this.skillStore()).get(name);
    if (!skill) throw new InvalidArgumentError(`no skill named ${JSON.stringify(name)}`);
    if (skill.model.id !== entry.model || skill.model.revision !== entry.loaded.storage.revision) {
      throw new InvalidArgumentError(`the skill "${name}" was made for ${skill.model.id}@${skill.model.revision}, not ${entry.model}@${entry.loaded.storage.revision}`);
    }
    switch (skill.task.kind) {
      case 'classifier':
        return this.classify(handle, skill.task.head, input, options);
      case 'zero-shot':
        return this.classifyZeroShot(handle, input, skill.task.labels, options);
      case 'extractor':
        return (await this.extract(handle, input, skill.task.schema, options)).value;
    }
  }

  private weightCache(): Promise<WeightCache> {
    this.cache ??= WeightCache.open(this.env.cache);
    return this.cache;
  }

  /** Aborts the load or generation started with this request id (no-op if it already finished). */
  abort(requestId: string): void {
    this.requests.get(requestId)?.abort(new AbortError('aborted by the caller'));
  }

  async load(model: string, options: Omit<LoadOptions, 'onProgress'> & RequestOptions = {}, onProgress?: (e: ProgressEvent) => void): Promise<ModelInfo> {
    return this.withSignal(options, async (signal) => {
      const loaded = await loadModel(this.env, await this.weightCache(), this.transformers, model, { ...options, signal, ...(onProgress && { onProgress }) });
      const handle = `m${this.nextHandle++}`;
      this.models.set(handle, { model, loaded, queue: Promise.resolve(), unloaded: false, inFlight: null });
      return this.info(handle);
    });
  }

  info(handle: string): ModelInfo {
    const { model, loaded } = this.entry(handle);
    const { backend, contextLength, vocabSize } = loaded.kind === 'decoder' ? { backend: loaded.decoder.backend, ...loaded.decoder.shape } : loaded.encoder;
    return {
      handle,
      model,
      kind: loaded.kind,
      url: loaded.url,
      dtype: loaded.dtype,
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

  list(): ModelInfo[] {
    return [...this.models.keys()].map((h) => this.info(h));
  }

  /** Cached model revisions with their bytes and last use, most recent first. */
  async cachedModels(): Promise<CachedModel[]> {
    return (await this.weightCache()).list();
  }

  /** Deletes one cached model revision (a `key` from cachedModels()) and all its chunks. */
  async deleteCachedModel(key: string): Promise<void> {
    await (await this.weightCache()).delete(key);
  }

  async clearCache(): Promise<void> {
    await (await this.weightCache()).clear();
  }

  /** What the cache holds against what the browser allows this origin. */
  async storageUsage(): Promise<StorageUsage> {
    const cache = await this.weightCache();
    const models = await cache.list();
    const estimate = await globalThis.navigator?.storage?.estimate?.();
    return {
      persistent: cache.persistent,
      ...(cache.unavailableReason && { reason: cache.unavailableReason }),
      cachedBytes: models.reduce((n, m) => n + m.bytes + m.partialBytes, 0),
      ...(estimate?.usage !== undefined && { usage: estimate.usage }),
      ...(estimate?.quota !== undefined && { quota: estimate.quota }),
      ...(cache.config.budgetBytes !== undefined && { budgetBytes: cache.config.budgetBytes }),
    };
  }

  /** Frees the model's session; a generation in progress on it is aborted first. */
  async unload(handle: string): Promise<void> {
    const entry = this.entry(handle);
    entry.unloaded = true;
    this.models.delete(handle);
    entry.inFlight?.abort(new AbortError('the model was unloaded'));
    await entry.queue.catch(() => {});
    await (entry.loaded.kind === 'decoder' ? entry.loaded.decoder : entry.loaded.encoder).release();
  }

  /** Generates a continuation of `prompt`; `onText` receives the text as it is produced. */
  async generate(handle: string, prompt: string, options: Omit<GenerateOptions, 'signal'> & RequestOptions & { signal?: AbortSignal } = {}, onText?: (chunk: string) => void): Promise<GenerationResult> {
    const entry = this.decoderEntry(handle);
    const opts = validateGenerateOptions(prompt, options);
    return this.queued(entry, options, (signal) => this.run(entry, entry.loaded.tokenizer.encode(prompt), opts, signal, onText));
  }

  /**
   * OpenAI-compatible chat completion. With `stream: true`, `onChunk` receives every chat.completion.chunk
   * (the last one acknowledged before this resolves, so a caller across a worker sees them all first).
   */
  async chatCompletion(
    handle: string,
    request: ChatCompletionRequest,
    options: RequestOptions & { signal?: AbortSignal } = {},
    onChunk?: (chunk: ChatCompletionChunk) => void | Promise<void>,
  ): Promise<ChatCompletion> {
    const entry = this.decoderEntry(handle);
    const messages = validateMessages(request?.messages);
    const opts = validateGenerateOptions('', chatGenerateOptions(request));
    const stream = request.stream === true && onChunk !== undefined;
    const includeUsage = stream && request.stream_options?.include_usage === true;
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatFinishReason | null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: entry.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(includeUsage && { usage: null }),
    });
    const format = request.response_format;
    const constraint = format?.type === 'json_schema' ? jsonSchemaConstraint(entry.loaded.tokenizer, format.json_schema.schema ?? {}, entry.loaded.decoder.shape.vocabSize) : undefined;
    const result = await this.queued(entry, options, (signal) => {
      const promptIds = chatPromptIds(entry.loaded.tokenizer, messages);
      if (stream) void onChunk(chunk({ role: 'assistant', content: '' }, null));
      return this.run(entry, promptIds, opts, signal, stream ? (text) => void onChunk(chunk({ content: text }, null)) : undefined, constraint);
    });
    const finish: ChatFinishReason = result.finishReason === 'length' ? 'length' : 'stop';
    const usage = { prompt_tokens: result.stats.promptTokens, completion_tokens: result.stats.generatedTokens, total_tokens: result.stats.promptTokens + result.stats.generatedTokens };
    if (stream) {
      await onChunk(chunk({}, finish));
      if (includeUsage) await onChunk({ ...chunk({}, null), choices: [], usage });
    }
    return {
      id,
      object: 'chat.completion',
      created,
      model: entry.model,
      choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null }, finish_reason: finish, logprobs: null }],
      usage,
    };
  }

  /** Runs `fn` in the model's queue, after the calls before it, with one AbortSignal for the call. */
  private queued<T>(entry: Entry, options: { signal?: AbortSignal; requestId?: string }, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.withSignal(options, (signal) => {
      const run = entry.queue.then(async () => {
        throwIfAborted(signal, 'generation');
        if (entry.unloaded) throw new ModelNotLoadedError(`model ${entry.model} was unloaded`);
        const controller = new AbortController();
        const onAbort = (): void => controller.abort(signal.reason);
        signal.addEventListener('abort', onAbort);
        entry.inFlight = controller;
        try {
          return await fn(controller.signal);
        } finally {
          entry.inFlight = null;
          signal.removeEventListener('abort', onAbort);
        }
      });
      entry.queue = run.catch(() => {});
      return run;
    });
  }

  /**
   * Extracts a JSON value matching `schema` from `text`: every token is masked to keep the output a
   * valid prefix, and generation stops when the document is complete. Sampling options apply as usual.
   */
  async extract(
    handle: string,
    text: string,
    schema: unknown,
    options: ExtractOptions & RequestOptions & { signal?: AbortSignal } = {},
  ): Promise<ExtractionResult> {
    const entry = this.decoderEntry(handle);
    const { tokenizer, decoder } = entry.loaded;
    const constraint = jsonSchemaConstraint(tokenizer, schema, decoder.shape.vocabSize, { draft: options.lookahead !== false, source: text });
    const opts = validateGenerateOptions(text, { maxNewTokens: decoder.shape.contextLength, ...options });
    const result = await this.queued(entry, options, (signal) => this.run(entry, tokenizer.encode(extractionPrompt(text)), opts, signal, undefined, constraint));
    if (!constraint.complete) {
      throw new ContextOverflowError(`the JSON did not fit in ${result.stats.generatedTokens} tokens; shorten the text or allow more tokens`, { details: { text: result.text } });
    }
    return { value: JSON.parse(result.text) as unknown, text: result.text, stats: result.stats };
  }

  /** L2-normalised mean-pooled final hidden states, one vector per text. */
  async embed(handle: string, texts: string[], options: RequestOptions & { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    const entry = this.entry(handle);
    if (!Array.isArray(texts) || texts.length === 0) throw new InvalidArgumentError('texts must be a non-empty array of strings');
    return this.queued(entry, options, async (signal) => {
      const out: Float32Array[] = [];
      for (const text of texts) {
        throwIfAborted(signal, 'embedding');
        out.push(await this.embedOne(entry, text));
      }
      return out;
    });
  }

  /** Zero-shot classification: a probability per label (summing to 1) from each label's likelihood under the model. */
  async classifyZeroShot(handle: string, text: string, labels: string[], options: RequestOptions & { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    const entry = this.decoderEntry(handle);
    return this.queued(entry, options, () => zeroShot(entry.loaded.decoder, entry.loaded.tokenizer, text, labels));
  }

  /** Trains a softmax head on labelled examples (features: this model's embeddings); reports held-out accuracy and confusion. */
  async trainClassifier(
    handle: string,
    examples: Array<{ text: string; label: string }>,
    options: TrainOptions & RequestOptions & { signal?: AbortSignal } = {},
    onProgress?: (p: TrainProgress & { phase: 'features' | 'training'; done?: number; total?: number }) => void,
  ): Promise<TrainingReport> {
    const entry = this.entry(handle);
    if (!Array.isArray(examples) || examples.length === 0) throw new InvalidArgumentError('training needs labelled examples; got none');
    for (const [i, e] of examples.entries()) {
      if (typeof e?.label !== 'string' || e.label.trim() === '') throw new InvalidArgumentError(`examples[${i}].label must be a non-empty string`);
    }
    return this.queued(entry, options, async (signal) => {
      const features: Float32Array[] = [];
      for (const e of examples) {
        throwIfAborted(signal, 'training');
        features.push(await this.embedOne(entry, e.text));
        onProgress?.({ phase: 'features', done: features.length, total: examples.length, epoch: 0, maxEpochs: 0, trainLoss: NaN, validationLoss: NaN });
      }
      return trainHead(features, examples.map((e) => e.label), options, onProgress && ((p) => onProgress({ ...p, phase: 'training' })));
    });
  }

  /** Embeds documents with this model and stores them in `collection` (replacing ones with the same id). */
  async indexDocuments(handle: string, collection: string, docs: Array<{ id: string; text: string }>, options: RequestOptions & { signal?: AbortSignal } = {}): Promise<number> {
    if (typeof collection !== 'string' || !collection) throw new InvalidArgumentError('collection must be a non-empty string');
    if (!Array.isArray(docs) || docs.length === 0 || docs.some((d) => typeof d?.id !== 'string' || typeof d.text !== 'string')) {
      throw new InvalidArgumentError('docs must be a non-empty array of { id, text } strings');
    }
    const entry = this.entry(handle);
    const vectors = await this.embed(handle, docs.map((d) => d.text), options);
    const model = this.embeddingModel(entry);
    await (await this.documentStore()).put(docs.map((d, i) => ({ collection, id: d.id, text: d.text, vector: vectors[i]!, model })));
    return docs.length;
  }

  /** The k documents of `collection` closest to `query` by cosine similarity (only those embedded by this model). */
  async search(handle: string, collection: string, query: string, k = 5, options: RequestOptions & { signal?: AbortSignal } = {}): Promise<SearchHit[]> {
    if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`k must be a positive integer; got ${k}`);
    const entry = this.entry(handle);
    const [vector] = await this.embed(handle, [query], options);
    const model = this.embeddingModel(entry);
    const docs = (await (await this.documentStore()).collection(collection)).filter((d) => d.model === model);
    return topK(docs, vector!, k);
  }

  async deleteCollection(collection: string): Promise<void> {
    await (await this.documentStore()).deleteCollection(collection);
  }

  /** Applies a trained head to a text: a probability per label. */
  async classify(handle: string, head: ClassifierHead, text: string, options: RequestOptions & { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    const entry = this.entry(handle);
    const valid =
      Array.isArray(head?.labels) && head.labels.length >= 2 && head.weights?.length === head.labels.length * head.dim && head.bias?.length === head.labels.length && head.mean?.length === head.dim && head.std?.length === head.dim;
    if (!valid) throw new InvalidArgumentError('head is not a trained classifier head (labels, dim, mean, std, weights, bias)');
    return this.queued(entry, options, async () => {
      const features = await this.embedOne(entry, text);
      if (features.length !== head.dim) throw new InvalidArgumentError(`the head was trained on ${head.dim}-dimensional features; this model gives ${features.length}`);
      const p = predict(head, features);
      return Object.fromEntries(head.labels.map((l, i) => [l, p[i]!]));
    });
  }

  private async run(
    entry: Entry<LoadedDecoder>,
    promptIds: number[],
    opts: Required<Omit<GenerateOptions, 'signal'>>,
    signal: AbortSignal,
    onText?: (chunk: string) => void,
    constraint?: Constraint,
  ): Promise<GenerationResult> {
    const { loaded } = entry;
    const { tokenizer, eosIds } = loaded;
    const started = performance.now();
    const { contextLength } = loaded.decoder.shape;
    if (promptIds.length >= contextLength) {
      throw new ContextOverflowError(`the prompt is ${promptIds.length} tokens; this model's context is ${contextLength} tokens (leave room for at least one new token)`, {
        details: { promptTokens: promptIds.length, contextLength },
      });
    }
    const budget = Math.min(opts.maxNewTokens, contextLength - promptIds.length);
    const sampler = new Sampler(opts);
    const decode = (ids: number[]): string => tokenizer.decode(ids, { skip_special_tokens: true });
    const stream = new TokenTextStream(decode, promptIds);
    const stops = new StopStringFilter(opts.stop);
    const generated: number[] = [];
    let text = '';
    let finishReason: FinishReason = 'length';
    const emit = (chunk: string): void => {
      if (!chunk) return;
      text += chunk;
      onText?.(chunk);
    };

    loaded.decoder.reset();
    let generatedAtAbort = -1;
    signal.addEventListener('abort', () => (generatedAtAbort = generated.length), { once: true });
    const fed = [...promptIds];
    // Drafted tokens (constraint.draft) are checked in one run; rewinding them needs the KV cache on the CPU.
    const lookahead =
      constraint?.draft && loaded.decoder.backend.name === 'wasm'
        ? new Lookahead(
            { run: (ids, history, rows) => this.step(loaded, ids, history, rows), truncate: (n) => loaded.decoder.truncate(n), vocabSize: loaded.decoder.shape.vocabSize, contextLength },
            constraint.draft,
          )
        : null;
    let logits = budget > 0 ? await this.step(loaded, promptIds, fed) : null;
    const prefillDone = performance.now();
    let firstTokenAt = prefillDone;
    while (logits && generated.length < budget) {
      if (signal.aborted) {
        finishReason = 'aborted';
        break;
      }
      if (generated.length < opts.minNewTokens) for (const id of eosIds) logits[id] = -Infinity;
      constraint?.mask(logits);
      const next = sampler.next(logits, opts.repetitionPenalty !== 1 ? [...promptIds, ...generated] : []);
      if (generated.length === 0) firstTokenAt = performance.now();
      if (eosIds.has(next)) {
        finishReason = 'eos';
        break;
      }
      generated.push(next);
      constraint?.accept(next);
      const { text: visible, stopped } = stops.push(stream.push(next));
      emit(visible);
      if (stopped || constraint?.complete) {
        finishReason = 'stop';
        break;
      }
      if (generated.length >= budget) break;
      fed.push(next);
      // Let queued messages (an abort from the page) run between tokens; ORT's WASM runs resolve as microtasks.
      await yieldToEventLoop();
      logits = lookahead ? await lookahead.after(fed) : await this.step(loaded, [next], fed);
    }
    if (finishReason !== 'stop') emit(stops.push(stream.flush()).text + stops.flush());
    const ended = performance.now();
    if (finishReason === 'aborted') {
      throw new AbortError('generation was aborted', {
        cause: signal.reason,
        details: { text, generatedTokens: generated.length, tokensAfterAbort: generated.length - generatedAtAbort },
      });
    }
    const decodeTokens = Math.max(0, generated.length - 1);
    return {
      text,
      tokenIds: generated,
      finishReason,
      stats: {
        promptTokens: promptIds.length,
        generatedTokens: generated.length,
        timeToFirstTokenMs: firstTokenAt - started,
        prefillMs: prefillDone - started,
        decodeMs: ended - firstTokenAt,
        prefillTokensPerSecond: (promptIds.length * 1000) / Math.max(1e-3, prefillDone - started),
        decodeTokensPerSecond: decodeTokens > 0 ? (decodeTokens * 1000) / Math.max(1e-3, ended - firstTokenAt) : 0,
        backend: loaded.decoder.backend.name,
        ...(lookahead && { draftedTokens: lookahead.drafted, acceptedDraftTokens: lookahead.accepted }),
      },
    };
  }

  /**
   * One decoder step over `ids` (the tail of `history`, every id fed so far). If a WebGPU run fails,
   * the model moves to WASM and the new decoder is brought up to date by feeding the whole history.
   */
  private async step(loaded: LoadedDecoder, ids: number[], history: number[], rows = 1): Promise<Float32Array> {
    const decoder = loaded.decoder;
    if (decoder.position !== history.length - ids.length) {
      // The decoder was replaced (device lost) since the last step: rebuild its cache.
      decoder.reset();
      ids = history;
    }
    try {
      return await decoder.step(ids, rows);
    } catch (err) {
      if (decoder.backend.name !== 'webgpu') throw err;
      await loaded.fallBackToWasm(`a WebGPU run failed (${err instanceof Error ? err.message : String(err)})`);
      return loaded.decoder.step(history, rows);
    }
  }

  private entry(handle: string): Entry {
    const entry = this.models.get(handle);
    if (!entry) throw new ModelNotLoadedError(`no model is loaded with handle ${JSON.stringify(handle)} (never loaded, or unloaded)`);
    return entry;
  }

  /** The entry of a model that generates; an encoder-only model gets a typed error naming what it can do. */
  private decoderEntry(handle: string): Entry<LoadedDecoder> {
    const entry = this.entry(handle);
    if (entry.loaded.kind !== 'decoder') {
      throw new UnsupportedTaskError(`${entry.model} is an encoder-only model: it embeds, classifies with a trained head and searches, but does not generate or score text`, {
        details: { model: entry.model, kind: entry.loaded.kind },
      });
    }
    return entry as Entry<LoadedDecoder>;
  }

  /** One text's embedding: pooled hidden states of the decoder, or the encoder's feature extraction. */
  private embedOne(entry: Entry, text: string): Promise<Float32Array> {
    const { loaded } = entry;
    return loaded.kind === 'decoder' ? embed(loaded.decoder, loaded.tokenizer, text) : loaded.encoder.embed(text);
  }

  /** Runs `fn` with one AbortSignal that fires for the caller's signal or for abort(requestId). */
  private async withSignal<T>(options: { signal?: AbortSignal; requestId?: string }, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const { signal, requestId } = options;
    const forward = (): void => controller.abort(signal?.reason);
    if (signal?.aborted) forward();
    signal?.addEventListener('abort', forward);
    if (requestId) this.requests.set(requestId, controller);
    try {
      return await fn(controller.signal);
    } finally {
      signal?.removeEventListener('abort', forward);
      if (requestId) this.requests.delete(requestId);
    }
  }
}

const channel = typeof MessageChannel !== 'undefined' ? new MessageChannel() : null;
const pending: Array<() => void> = [];
if (channel) channel.port1.onmessage = () => pending.shift()?.();

/** Resolves after the event loop has had a turn (a macrotask), at a fraction of setTimeout(0)'s cost. */
function yieldToEventLoop(): Promise<void> {
  if (!channel) return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    pending.push(resolve);
    channel.port2.postMessage(null);
  });
}

function validateGenerateOptions(prompt: unknown, o: GenerateOptions): Required<Omit<GenerateOptions, 'signal'>> {
  if (typeof prompt !== 'string') throw new InvalidArgumentError(`prompt must be a string; got ${prompt === null ? 'null' : typeof prompt}`);
  const opts = {
    maxNewTokens: o.maxNewTokens ?? 128,
    minNewTokens: o.minNewTokens ?? 0,
    temperature: o.temperature ?? 0,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 32),
    stop: o.stop ?? [],
  };
  const check = (ok: boolean, what: string, value: unknown): void => {
    if (!ok) throw new InvalidArgumentError(`${what}; got ${JSON.stringify(value)}`, { details: { value } });
  };
  check(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0, 'maxNewTokens must be a non-negative integer', opts.maxNewTokens);
  check(Number.isInteger(opts.minNewTokens) && opts.minNewTokens >= 0 && opts.minNewTokens <= opts.maxNewTokens, 'minNewTokens must be an integer from 0 to maxNewTokens', opts.minNewTokens);
  check(Number.isFinite(opts.temperature) && opts.temperature >= 0, 'temperature must be a finite number ≥ 0', opts.temperature);
  check(Number.isInteger(opts.topK) && opts.topK >= 0, 'topK must be a non-negative integer (0 = off)', opts.topK);
  check(Number.isFinite(opts.topP) && opts.topP > 0 && opts.topP <= 1, 'topP must be in (0, 1]', opts.topP);
  check(Number.isFinite(opts.repetitionPenalty) && opts.repetitionPenalty > 0, 'repetitionPenalty must be a number > 0', opts.repetitionPenalty);
  check(Number.isInteger(opts.seed) && opts.seed >= 0 && opts.seed < 2 ** 32, 'seed must be an integer from 0 to 2^32 − 1', opts.seed);
  check(Array.isArray(opts.stop) && opts.stop.every((s) => typeof s === 'string' && s.length > 0), 'stop must be an array of non-empty strings', opts.stop);
  return opts;
}
