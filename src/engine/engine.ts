/**
 * The runtime's dispatcher: a registry of loaded models by handle, a queue per model, and each request
 * sent to the module that does the work (load/, generation/decode-loop.ts, tasks/, openai/, skills/,
 * search/, storage/). It runs in a Web Worker behind workers/engine.worker.ts, or on the page itself.
 *
 * Tasks on one model run one at a time in call order: a second call waits for the first instead of
 * failing, an aborted call leaves the queue at once, and unload aborts the running one.
 */
import { defaultEnv, type RuntimeEnv } from '../env.ts';
import { AbortError, ContextOverflowError, InvalidArgumentError, ModelNotFoundError, ModelNotLoadedError, throwIfAborted, UnsupportedTaskError } from '../errors.ts';
import { ChatReply } from '../openai/completion.ts';
import { parseChatRequest } from '../openai/request.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../openai/types.ts';
import { GENERATE_KEYS, rejectUnknownKeys, TRANSPORT_KEYS, validateGenerateOptions, validateLoadOptions, validateSignalOnly } from '../options.ts';
import type { SearchHit } from '../search/document-store.ts';
import { SearchService } from '../search/service.ts';
import { SkillService, type ModelBinding, type SkillDefinition } from '../skills/service.ts';
import type { SealedSkill } from '../skills/skill.ts';
import { openStores, type Stores } from '../storage/stores.ts';
import type { TransformersCache } from '../storage/transformers-cache.ts';
import type { CachedModel, WeightCache } from '../storage/weight-cache.ts';
import type { ExtractOptions, ExtractionResult, GenerateOptions, GenerationResult, LoadOptions, ModelInfo, ProgressEvent, StorageUsage } from '../types.ts';
import type { EngineApi, RequestOptions, TrainingProgress } from './api.ts';
import { decode } from './generation/decode-loop.ts';
import { loadModel, type LoadRequest } from './load/load.ts';
import { describeModel, type LoadedDecoder, type LoadedModel } from './load/loaded.ts';
import { chatPromptIds } from './tasks/chat.ts';
import { toolCallConstraint } from './tasks/tool-call.ts';
import { checkExamples, checkHead, embed, predict, trainHead, zeroShot, type ClassifierHead, type TrainingReport, type TrainOptions } from './tasks/classify.ts';
import { extractionPromptIds, jsonSchemaConstraint, type Constraint, type ConstraintOptions } from './tasks/extract.ts';
import type { FineTuneExample, FineTuneOptions, FineTuneProgress, FineTuneReport } from '../training/fine-tune.ts';
import { openAdapter, saveAdapter, TRAINING_GRAPH, type AdapterShape } from '../training/adapter.ts';
import { checkExamples as checkFineTuneExamples, resolveFineTuneOptions, runFineTune, type TrainedAdapter } from '../training/fine-tune-run.ts';
import { loraFeeds, type LoraFeed } from '../training/lora-feeds.ts';
import { configureTransformers } from './transformers-env.ts';

export type { RequestOptions } from './api.ts';
export type { SkillDefinition } from '../skills/service.ts';

/** Turns a model reference into a loaded model (replaced by a fake in Node tests of the dispatcher). */
export type ModelLoader = (env: RuntimeEnv, cache: WeightCache, transformers: TransformersCache, model: string, options: LoadRequest) => Promise<LoadedModel>;

const TRAIN_KEYS = ['seed', 'validationSplit', 'maxEpochs', 'learningRate', ...TRANSPORT_KEYS];
/** Extraction ends where the JSON ends: stop strings do not apply. */
const EXTRACT_KEYS = [...GENERATE_KEYS.filter((k) => k !== 'stop'), 'lookahead', ...TRANSPORT_KEYS];

/** An adapter made by fineTune or loaded from a skill, and its packed LoRA inputs once used. */
interface AdapterEntry {
  adapter: TrainedAdapter;
  feeds: Map<string, LoraFeed> | null;
}

interface Entry<L extends LoadedModel = LoadedModel> {
  model: string;
  loaded: L;
  /** Adapters by name, all on this one loaded base model. */
  adapters: Map<string, AdapterEntry>;
  queue: Promise<unknown>;
  unloaded: boolean;
  inFlight: AbortController | null;
}

export class Engine implements EngineApi {
  private env: RuntimeEnv = defaultEnv(globalThis.location?.href ?? 'http://localhost/');
  private stores: Promise<Stores> | null = null;
  private readonly models = new Map<string, Entry>();
  private readonly requests = new Map<string, AbortController>();
  private nextHandle = 1;
  private transformers: TransformersCache;
  private readonly skills = new SkillService(
    async () => (await this.openStores()).skills,
    (model) => this.isAvailable(model),
  );
  private readonly documents: SearchService = new SearchService(async () => (await this.openStores()).documents);

  constructor(private readonly loader: ModelLoader = loadModel) {
    this.transformers = configureTransformers(this.env, () => this.weights());
  }

  configure(env: Partial<RuntimeEnv>): void {
    this.env = { ...this.env, ...env, cache: { ...this.env.cache, ...env.cache } };
    this.stores = null;
    this.transformers = configureTransformers(this.env, () => this.weights());
  }

  abort(requestId: string): void {
    this.requests.get(requestId)?.abort(new AbortError('aborted by the caller'));
  }

  // ---- registry -------------------------------------------------------------------------------

  async load(model: string, options: Omit<LoadOptions, 'onProgress' | 'signal'> & RequestOptions = {}, onProgress?: (e: ProgressEvent) => void): Promise<ModelInfo> {
    const resolved = validateLoadOptions(options);
    return this.withSignal(options, async (signal) => {
      const loaded = await this.loader(this.env, await this.weights(), this.transformers, model, { ...options, ...resolved, signal, ...(onProgress && { onProgress }) });
      const handle = `m${this.nextHandle++}`;
      this.models.set(handle, { model, loaded, adapters: new Map(), queue: Promise.resolve(), unloaded: false, inFlight: null });
      return this.info(handle);
    });
  }

  info(handle: string): ModelInfo {
    const { model, loaded } = this.entry(handle);
    return describeModel(handle, model, loaded);
  }

  list(): ModelInfo[] {
    return [...this.models.keys()].map((h) => this.info(h));
  }

  async unload(handle: string): Promise<void> {
    const entry = this.entry(handle);
    entry.unloaded = true;
    this.models.delete(handle);
    entry.inFlight?.abort(new AbortError('the model was unloaded'));
    await entry.queue.catch(() => {});
    await (entry.loaded.kind === 'decoder' ? entry.loaded.decoder : entry.loaded.encoder).release();
  }

  // ---- generation ------------------------------------------------------------------------------

  async generate(handle: string, prompt: string, options: Omit<GenerateOptions, 'signal'> & RequestOptions = {}, onText?: (chunk: string) => void): Promise<GenerationResult> {
    const entry = this.decoderEntry(handle);
    const opts = validateGenerateOptions(prompt, options);
    this.adapterEntry(entry, opts.adapter);
    return this.queued(entry, options, (signal) => this.withAdapter(entry, opts.adapter, () => decode(entry.loaded, { promptIds: entry.loaded.tokenizer.encode(prompt), options: opts, signal }, onText)));
  }

  async chatCompletion(handle: string, request: ChatCompletionRequest, options: RequestOptions = {}, onChunk?: (chunk: ChatCompletionChunk) => void | Promise<void>): Promise<ChatCompletion> {
    const entry = this.decoderEntry(handle);
    validateSignalOnly('chat', options);
    const chat = parseChatRequest(request);
    const opts = validateGenerateOptions('', chat.generate);
    const calling = chat.tools?.mode === 'none' ? null : chat.tools;
    const tools = calling ? toolCallConstraint(entry.loaded.tokenizer, calling, entry.loaded.decoder.shape.vocabSize) : null;
    const constraint = tools ?? (chat.schema ? this.jsonConstraint(entry, chat.schema) : undefined);
    const reply = new ChatReply(entry.model, chat.stream && onChunk ? onChunk : null, chat.includeUsage, tools);
    this.adapterEntry(entry, opts.adapter);
    const result = await this.queued(entry, options, (signal) =>
      this.withAdapter(entry, opts.adapter, () => {
        const promptIds = chatPromptIds(entry.loaded.tokenizer, chat.messages, chat.tools);
        reply.start();
        return decode(entry.loaded, { promptIds, options: opts, signal, ...(constraint && { constraint }) }, (text) => reply.text(text));
      }),
    );
    return reply.finish(result);
  }

  /**
   * Extracts a JSON value matching `schema` from `text`: every token is masked to keep the output a
   * valid prefix, and generation stops when the document is complete. Sampling options apply as usual.
   */
  async extract(handle: string, text: string, schema: unknown, options: Omit<ExtractOptions, 'signal'> & RequestOptions = {}): Promise<ExtractionResult> {
    const entry = this.decoderEntry(handle);
    rejectUnknownKeys('extraction option', options, EXTRACT_KEYS);
    const { lookahead, ...generate } = options;
    const constraint = this.jsonConstraint(entry, schema, { draft: lookahead !== false, source: text });
    const opts = validateGenerateOptions(text, { maxNewTokens: entry.loaded.decoder.shape.contextLength, ...generate });
    const promptIds = extractionPromptIds(entry.loaded.tokenizer, text, schema);
    this.adapterEntry(entry, opts.adapter);
    const result = await this.queued(entry, options, (signal) => this.withAdapter(entry, opts.adapter, () => decode(entry.loaded, { promptIds, options: opts, signal, constraint })));
    if (!constraint.complete) {
      throw new ContextOverflowError(`the JSON did not fit in ${result.stats.generatedTokens} tokens; shorten the text or allow more tokens`, { details: { text: result.text } });
    }
    return { value: JSON.parse(result.text) as unknown, text: result.text, stats: result.stats };
  }

  // ---- embeddings and classification ------------------------------------------------------------

  async embed(handle: string, texts: string[], options: RequestOptions = {}): Promise<Float32Array[]> {
    const entry = this.entry(handle);
    validateSignalOnly('embedding', options);
    if (!Array.isArray(texts) || texts.length === 0) throw new InvalidArgumentError('texts must be a non-empty array of strings');
    return this.queued(entry, options, async (signal) => {
      const out: Float32Array[] = [];
      for (const text of texts) {
        throwIfAborted(signal, 'embedding');
        out.push(await embedOne(entry.loaded, text));
      }
      return out;
    });
  }

  async classifyZeroShot(handle: string, text: string, labels: string[], options: RequestOptions = {}): Promise<Record<string, number>> {
    const entry = this.decoderEntry(handle);
    validateSignalOnly('classification', options);
    return this.queued(entry, options, () => zeroShot(entry.loaded.decoder, entry.loaded.tokenizer, text, labels));
  }

  async trainClassifier(handle: string, examples: Array<{ text: string; label: string }>, options: TrainOptions & RequestOptions = {}, onProgress?: (p: TrainingProgress) => void | Promise<void>): Promise<TrainingReport> {
    const entry = this.entry(handle);
    rejectUnknownKeys('training option', options, TRAIN_KEYS);
    checkExamples(examples);
    // Across a worker each progress call is a message of its own: the last one is awaited so that
    // every report reaches the caller before the result does.
    let delivered: void | Promise<void> = undefined;
    const report = (p: TrainingProgress): void => void (delivered = onProgress?.(p));
    return this.queued(entry, options, async (signal) => {
      const features: Float32Array[] = [];
      for (const e of examples) {
        throwIfAborted(signal, 'training');
        features.push(await embedOne(entry.loaded, e.text));
        report({ phase: 'features', done: features.length, total: examples.length, epoch: 0, maxEpochs: 0, trainLoss: NaN, validationLoss: NaN });
      }
      const trained = trainHead(features, examples.map((e) => e.label), options, (p) => report({ ...p, phase: 'training' }));
      await delivered;
      return trained;
    });
  }

  async fineTune(handle: string, examples: FineTuneExample[], options: Omit<FineTuneOptions, 'signal' | 'onProgress'> & RequestOptions, onProgress?: (p: FineTuneProgress) => void | Promise<void>): Promise<FineTuneReport> {
    const entry = this.decoderEntry(handle);
    const shape = this.adapterShape(entry);
    const o = resolveFineTuneOptions(options, { nLayers: shape.nLayers, contextLength: entry.loaded.decoder.shape.contextLength });
    const pairs = checkFineTuneExamples(examples);
    // As for trainClassifier: the last progress report reaches the caller before the result.
    let delivered: void | Promise<void> = undefined;
    return this.queued(entry, options, async (signal) => {
      const decoder = entry.loaded.decoder;
      const session = await decoder.backend.createSession(await trainingGraph(entry.loaded, signal), [], { purpose: 'training' });
      const greedy = (maxNewTokens: number) => validateGenerateOptions('', { maxNewTokens, temperature: 0, seed: 0 });
      const scratch = `\u0000fine-tune ${o.name}`;
      try {
        const { report, adapter } = await runFineTune(
          {
            tokenizer: entry.loaded.tokenizer,
            eosId: [...entry.loaded.eosIds][0] ?? 0,
            vocabSize: decoder.shape.vocabSize,
            contextLength: decoder.shape.contextLength,
            shape,
            Tensor: decoder.backend.ort.Tensor,
            session,
            prefixHidden: (ids) => entry.loaded.decoder.prefixHidden(ids),
            complete: async (promptIds, adapter, maxNewTokens) => {
              if (adapter) entry.adapters.set(scratch, { adapter, feeds: null });
              const result = await this.withAdapter(entry, adapter ? scratch : null, () => decode(entry.loaded, { promptIds, options: greedy(maxNewTokens), signal }));
              return result.text;
            },
          },
          pairs,
          o,
          signal,
          (p) => void (delivered = onProgress?.(p)),
        );
        this.addAdapter(entry, o.name, adapter);
        await delivered;
        return report;
      } finally {
        entry.adapters.delete(scratch);
        entry.loaded.decoder.forgetAdapter(scratch);
        await session.release().catch(() => {});
      }
    });
  }

  async classify(handle: string, head: ClassifierHead, text: string, options: RequestOptions = {}): Promise<Record<string, number>> {
    const entry = this.entry(handle);
    validateSignalOnly('classification', options);
    checkHead(head);
    return this.queued(entry, options, async () => {
      const features = await embedOne(entry.loaded, text);
      if (features.length !== head.dim) throw new InvalidArgumentError(`the head was trained on ${head.dim}-dimensional features; this model gives ${features.length}`);
      const p = predict(head, features);
      return Object.fromEntries(head.labels.map((l, i) => [l, p[i]!]));
    });
  }

  // ---- skills ------------------------------------------------------------------------------------

  async saveSkill(handle: string, definition: SkillDefinition): Promise<SealedSkill> {
    const entry = this.entry(handle);
    if (definition?.task?.kind !== 'adapter') return this.skills.save(binding(entry), definition);
    // An adapter skill carries the adapter itself, so that its exported file is all another browser needs.
    const { adapter } = this.adapterEntry(entry as Entry<LoadedDecoder>, definition.task.adapter)!;
    return this.skills.save(binding(entry), { ...definition, task: { kind: 'adapter', adapter: definition.task.adapter, weights: saveAdapter(adapter.lora, adapter.matrices) } });
  }

  listSkills(): Promise<SealedSkill[]> {
    return this.skills.list();
  }

  deleteSkill(name: string): Promise<void> {
    return this.skills.delete(name);
  }

  exportSkill(name: string): Promise<string> {
    return this.skills.export(name);
  }

  importSkill(file: string): Promise<SealedSkill> {
    return this.skills.import(file);
  }

  /** Runs a saved skill on the model behind `handle`, which must be the model the skill was made with. */
  async runSkill(handle: string, name: string, input: string, options: RequestOptions = {}): Promise<unknown> {
    const task = await this.skills.taskFor(name, binding(this.entry(handle)));
    switch (task.kind) {
      case 'classifier':
        return this.classify(handle, task.head, input, options);
      case 'zero-shot':
        return this.classifyZeroShot(handle, input, task.labels, options);
      case 'extractor':
        return (await this.extract(handle, input, task.schema, options)).value;
      case 'adapter': {
        const entry = this.decoderEntry(handle);
        if (!task.weights) throw new InvalidArgumentError(`the skill "${name}" holds no adapter weights`);
        this.addAdapter(entry, task.adapter, openAdapter(task.weights, this.adapterShape(entry)));
        // As a user turn of the chat template: the formatting fineTune trained the adapter on.
        const reply = await this.chatCompletion(handle, { messages: [{ role: 'user', content: input }], adapter: task.adapter }, options);
        return reply.choices[0]!.message.content ?? '';
      }
    }
  }

  // ---- search ------------------------------------------------------------------------------------

  async indexDocuments(handle: string, collection: string, docs: Array<{ id: string; text: string }>, options: RequestOptions = {}): Promise<number> {
    this.documents.checkDocuments(collection, docs);
    const entry = this.entry(handle);
    const vectors = await this.embed(handle, docs.map((d) => d.text), options);
    return this.documents.index(collection, docs, vectors, embeddingModel(entry));
  }

  async search(handle: string, collection: string, query: string, k = 5, options: RequestOptions = {}): Promise<SearchHit[]> {
    this.documents.checkK(k);
    const entry = this.entry(handle);
    const [vector] = await this.embed(handle, [query], options);
    return this.documents.search(collection, vector!, embeddingModel(entry), k);
  }

  deleteCollection(collection: string): Promise<void> {
    return this.documents.deleteCollection(collection);
  }

  // ---- weight cache ------------------------------------------------------------------------------

  async cachedModels(): Promise<CachedModel[]> {
    return (await this.weights()).list();
  }

  async deleteCachedModel(key: string): Promise<void> {
    await (await this.weights()).delete(key);
  }

  async clearCache(): Promise<void> {
    await (await this.weights()).clear();
  }

  async storageUsage(): Promise<StorageUsage> {
    return (await this.weights()).usage();
  }

  // ---- dispatch ------------------------------------------------------------------------------------

  private openStores(): Promise<Stores> {
    this.stores ??= openStores(this.env.cache);
    return this.stores;
  }

  private async weights(): Promise<WeightCache> {
    return (await this.openStores()).weights;
  }

  private async isAvailable(model: ModelBinding): Promise<boolean> {
    const loaded = [...this.models.values()].some((e) => e.model === model.id && e.loaded.storage.revision === model.revision);
    return loaded || (await this.cachedModels()).some((m) => m.id === model.id && m.revision === model.revision);
  }

  /** The adapter shapes of a model that takes adapters; an UnsupportedTaskError for one that does not. */
  private adapterShape(entry: Entry<LoadedDecoder>): AdapterShape {
    const shape = entry.loaded.decoder.adapterShape;
    if (!shape) {
      throw new UnsupportedTaskError(`${entry.model} (${entry.loaded.dtype}) takes no LoRA adapters: only Llama-architecture models with float32 activations (fp32, q8, q4) do`, {
        details: { model: entry.model, dtype: entry.loaded.dtype },
      });
    }
    return shape;
  }

  /** The adapter `name` of this model (null for none); an InvalidArgumentError names an unknown one. */
  private adapterEntry(entry: Entry<LoadedDecoder>, name: string | null): AdapterEntry | null {
    if (name === null) return null;
    const found = entry.adapters.get(name);
    if (!found) throw new InvalidArgumentError(`no adapter named ${JSON.stringify(name)} on ${entry.model}; fineTune one or run its skill first`, { details: { adapter: name, known: [...entry.adapters.keys()] } });
    return found;
  }

  /** Registers (or replaces) an adapter; KV cached with an older one of that name is dropped. */
  private addAdapter(entry: Entry<LoadedDecoder>, name: string, adapter: TrainedAdapter): void {
    entry.adapters.set(name, { adapter, feeds: null });
    entry.loaded.decoder.forgetAdapter(name);
  }

  /** Runs `fn` with the adapter `name` (null: the base model) on the model's one session, then back to the base. */
  private async withAdapter<T>(entry: Entry<LoadedDecoder>, name: string | null, fn: () => Promise<T>): Promise<T> {
    const found = this.adapterEntry(entry, name);
    const decoder = entry.loaded.decoder;
    if (!found) return fn();
    found.feeds ??= loraFeeds(this.adapterShape(entry), found.adapter.lora, found.adapter.matrices);
    decoder.useAdapter(name, found.feeds);
    try {
      return await fn();
    } finally {
      entry.loaded.decoder.useAdapter(null);
    }
  }

  private jsonConstraint(entry: Entry<LoadedDecoder>, schema: unknown, options?: ConstraintOptions): Constraint {
    return jsonSchemaConstraint(entry.loaded.tokenizer, schema, entry.loaded.decoder.shape.vocabSize, options);
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

  /** Runs `fn` in the model's queue, after the calls before it, with one AbortSignal for the call. */
  private queued<T>(entry: Entry, options: RequestOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.withSignal(options, (signal) => {
      const turn = entry.queue;
      const run = waitTurn(turn, signal).then(async () => {
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
      // A call that left early (aborted while waiting) must not let the next one overtake those before it.
      entry.queue = Promise.allSettled([turn, run]);
      return run;
    });
  }

  /** Runs `fn` with one AbortSignal that fires for the caller's signal or for abort(requestId). */
  private async withSignal<T>(options: RequestOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
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

/** Resolves when `turn` comes (the calls before have settled); rejects at once if `signal` fires first. */
function waitTurn(turn: Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new AbortError('generation was aborted', { cause: signal.reason }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void turn.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The model revision a skill or a stored embedding belongs to. */
function binding(entry: Entry): ModelBinding {
  return { id: entry.model, revision: entry.loaded.storage.revision };
}

/** Which model revision produced a stored embedding: search only compares like with like. */
function embeddingModel(entry: Entry): string {
  return `${entry.model}@${entry.loaded.storage.revision}`;
}

/** One text's embedding: pooled hidden states of the decoder, or the encoder's feature extraction. */
function embedOne(loaded: LoadedModel, text: string): Promise<Float32Array> {
  return loaded.kind === 'decoder' ? embed(loaded.decoder, loaded.tokenizer, text) : loaded.encoder.embed(text);
}

/**
 * The model folder's training graph (the converter writes it next to the ONNX files), read when a fine-tune
 * starts through the weight cache: verified against the manifest's SHA-256, resumable, fetched once per revision.
 */
async function trainingGraph(loaded: LoadedDecoder, signal: AbortSignal): Promise<Uint8Array> {
  return loaded.readFile(TRAINING_GRAPH, signal).catch((err: unknown) => {
    if (!(err instanceof ModelNotFoundError)) throw err;
    throw new UnsupportedTaskError(`this model folder has no training graph (${err.message}); convert it again with npm run models`, { cause: err, details: { url: new URL(TRAINING_GRAPH, loaded.url).href } });
  });
}
