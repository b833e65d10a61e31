/**
 * What an embedder uses on the page: spawns the engine worker the Vite way (or runs the engine
 * in-page), and turns worker callbacks into AsyncIterables and AbortSignals into abort requests.
 */
import type * as ComlinkTypes from 'comlink';
import { defaultEnv, type RuntimeEnv } from '../env.ts';
import type { Engine, SkillDefinition } from '../engine/engine.ts';
import type { SealedSkill } from '../skills/skill.ts';
import type { SearchHit } from '../search/document-store.ts';
import { installErrorTransfer } from '../rpc.ts';
import type { CachedModel } from '../storage/weight-cache.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../openai/types.ts';
import type { ClassifierHead, TrainingReport, TrainOptions, TrainProgress } from '../engine/tasks/classify.ts';
import type { ExtractOptions, ExtractionResult, GenerateOptions, GenerationResult, LoadOptions, ModelInfo, StorageUsage } from '../types.ts';

type EngineApi = Pick<
  Engine,
  'configure' | 'abort' | 'load' | 'info' | 'list' | 'unload' | 'generate' | 'chatCompletion' | 'extract' | 'embed' | 'classifyZeroShot' | 'trainClassifier' | 'classify' | 'saveSkill' | 'listSkills' | 'deleteSkill' | 'exportSkill' | 'importSkill' | 'runSkill' | 'indexDocuments' | 'search' | 'deleteCollection' | 'cachedModels' | 'deleteCachedModel' | 'clearCache' | 'storageUsage'
>;
type RemoteEngine = ComlinkTypes.Remote<Engine>;

/** An AsyncIterable of text chunks that also exposes the final result (text, ids, stats). */
export interface GenerationStream extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

export interface ClientOptions {
  /** Overrides of where models, ORT files and the Hub are (defaults derive from the page's base URL). */
  env?: Partial<RuntimeEnv>;
}

let requestCounter = 0;

export class SlmClient {
  private constructor(
    private readonly engine: EngineApi | RemoteEngine,
    private readonly comlink: typeof ComlinkTypes | null,
    private readonly worker: Worker | null,
  ) {}

  /** Starts the engine in a dedicated module worker served by the app itself. */
  static async inWorker(options: ClientOptions & { worker?: Worker } = {}): Promise<SlmClient> {
    const Comlink = installErrorTransfer();
    const worker = options.worker ?? new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'slm-engine' });
    const engine = Comlink.wrap<Engine>(worker);
    await engine.configure({ ...pageEnv(), ...options.env });
    return new SlmClient(engine, Comlink, worker);
  }

  /** Runs the engine on the calling thread (single-threaded WASM; generation blocks between awaits). */
  static async inPage(options: ClientOptions = {}): Promise<SlmClient> {
    const { Engine } = await import('../engine/engine.ts');
    const engine = new Engine();
    engine.configure({ ...pageEnv(), ...options.env });
    return new SlmClient(engine, null, null);
  }

  async load(model: string, options: LoadOptions = {}): Promise<ModelHandle> {
    const { onProgress, signal, ...rest } = options;
    const info = await this.call(signal, (extra) =>
      this.engine.load(model, { ...rest, ...extra }, onProgress && this.callback(onProgress)),
    );
    return new ModelHandle(this, info);
  }

  async models(): Promise<ModelInfo[]> {
    return this.engine.list();
  }

  /** Saved skills, by name. */
  listSkills(): Promise<SealedSkill[]> {
    return this.engine.listSkills();
  }

  deleteSkill(name: string): Promise<void> {
    return this.engine.deleteSkill(name);
  }

  /** A skill as one JSON file to save or share (its content sealed with SHA-256). */
  exportSkill(name: string): Promise<string> {
    return this.engine.exportSkill(name);
  }

  /** Imports a skill file; a modified file is an IntegrityError, one for a model not loaded or cached a ModelNotFoundError. */
  importSkill(file: string): Promise<SealedSkill> {
    return this.engine.importSkill(file);
  }

  /** Deletes a search collection and its stored embeddings. */
  deleteCollection(collection: string): Promise<void> {
    return this.engine.deleteCollection(collection);
  }

  /** Cached model revisions (bytes, last use), most recent first. */
  cachedModels(): Promise<CachedModel[]> {
    return this.engine.cachedModels();
  }

  /** Deletes one cached model revision and all its chunks. */
  deleteCachedModel(key: string): Promise<void> {
    return this.engine.deleteCachedModel(key);
  }

  clearCache(): Promise<void> {
    return this.engine.clearCache();
  }

  storageUsage(): Promise<StorageUsage> {
    return this.engine.storageUsage();
  }

  /**
   * Asks the browser to keep this origin's storage under pressure (navigator.storage.persist(), only
   * callable from a page). Returns whether storage is persistent.
   */
  async requestPersistentStorage(): Promise<boolean> {
    const storage = globalThis.navigator?.storage;
    if (!storage?.persist) return false;
    return (await storage.persisted()) || storage.persist();
  }

  /** Stops the worker at once; every model in it is gone. */
  terminate(): void {
    if (this.comlink) (this.engine as RemoteEngine)[this.comlink.releaseProxy]();
    this.worker?.terminate();
  }

  /** @internal The one way handles reach the engine: the signal becomes a request id across the worker. */
  engineCall<T>(signal: AbortSignal | undefined, fn: (engine: EngineApi | RemoteEngine, extra: { signal?: AbortSignal; requestId?: string }) => Promise<T>): Promise<T> {
    return this.call(signal, (extra) => fn(this.engine, extra));
  }

  /** @internal */
  wrapCallback<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return this.callback(fn);
  }

  /** In-page the signal goes straight through; across the worker it becomes a request id plus abort(). */
  private async call<T>(signal: AbortSignal | undefined, fn: (extra: { signal?: AbortSignal; requestId?: string }) => Promise<T>): Promise<T> {
    if (!this.comlink || !signal) return fn(signal ? { signal } : {});
    const requestId = `r${++requestCounter}`;
    const abort = (): void => void this.engine.abort(requestId);
    if (signal.aborted) queueMicrotask(abort);
    signal.addEventListener('abort', abort);
    try {
      return await fn({ requestId });
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  private callback<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return this.comlink ? this.comlink.proxy(fn) : fn;
  }
}

export class ModelHandle {
  constructor(
    private readonly client: SlmClient,
    /** Backend, dtype, threads and load timings as of loading; refresh with `refreshInfo()`. */
    public info: ModelInfo,
  ) {}

  get handle(): string {
    return this.info.handle;
  }

  generate(prompt: string, options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.generateWith(prompt, options);
  }

  /** Streams text chunks as they are generated; `await stream.result` for ids and stats. */
  stream(prompt: string, options: GenerateOptions = {}): GenerationStream {
    let received = '';
    return pushStream<string, GenerationResult>(
      (push) =>
        this.generateWith(prompt, options, (chunk) => {
          received += chunk;
          push(chunk);
        }),
      // Text chunks travel on their own channel and may trail the result: its text is authoritative.
      (result) => (result.text.length > received.length ? [result.text.slice(received.length)] : []),
    );
  }

  /**
   * Extracts a JSON value valid for `schema` (a JSON Schema subset, see the README) from `text`;
   * unsupported keywords are an UnsupportedSchemaError that names them.
   */
  extract(text: string, schema: unknown, options: ExtractOptions = {}): Promise<ExtractionResult> {
    const { signal, ...rest } = options;
    return this.client.engineCall(signal, (engine, extra) => engine.extract(this.handle, text, schema, { ...rest, ...extra }));
  }

  /** Embeddings (L2-normalised mean-pooled final hidden states), one per text. */
  embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.embed(this.handle, texts, extra));
  }

  /** Zero-shot classification by label likelihood: a probability per label, summing to 1. */
  classifyZeroShot(text: string, labels: string[], options: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.classifyZeroShot(this.handle, text, labels, extra));
  }

  /** Trains a classifier head on labelled examples, in the worker; reports held-out accuracy and a confusion matrix. */
  trainClassifier(
    examples: Array<{ text: string; label: string }>,
    options: TrainOptions & { signal?: AbortSignal; onProgress?: (p: TrainProgress & { phase: 'features' | 'training'; done?: number; total?: number }) => void } = {},
  ): Promise<TrainingReport> {
    const { signal, onProgress, ...train } = options;
    return this.client.engineCall(signal, (engine, extra) => engine.trainClassifier(this.handle, examples, { ...train, ...extra }, onProgress && this.client.wrapCallback(onProgress)));
  }

  /** Embeds documents and stores them in IndexedDB under `collection`, for search(). */
  indexDocuments(collection: string, docs: Array<{ id: string; text: string }>, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.indexDocuments(this.handle, collection, docs, extra));
  }

  /** The k stored documents of `collection` most similar to `query` (cosine), best first. */
  search(collection: string, query: string, k = 5, options: { signal?: AbortSignal } = {}): Promise<SearchHit[]> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.search(this.handle, collection, query, k, extra));
  }

  /** Saves a skill bound to this model (its id and revision). */
  saveSkill(definition: SkillDefinition): Promise<SealedSkill> {
    return this.client.engineCall(undefined, (engine) => engine.saveSkill(this.handle, definition));
  }

  /** Runs a saved skill on this model: a label distribution (classifier, zero-shot) or a JSON value (extractor). */
  runSkill(name: string, input: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.runSkill(this.handle, name, input, extra));
  }

  /** Applies a trained head: a probability per label. */
  classify(head: ClassifierHead, text: string, options: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    return this.client.engineCall(options.signal, (engine, extra) => engine.classify(this.handle, head, text, extra));
  }

  /**
   * OpenAI-compatible chat: `model.chat.completions.create({ messages, … })` resolves to a ChatCompletion,
   * or with `stream: true` to an AsyncIterable of ChatCompletionChunks. Options take a `signal`.
   */
  readonly chat = {
    completions: {
      create: ((request: ChatCompletionRequest, options: { signal?: AbortSignal } = {}) => {
        if (!request?.stream) return this.chatWith(request, options.signal);
        // Resolve once generation has started (the first chunk), or reject if the request fails before.
        let started!: () => void;
        const firstChunk = new Promise<void>((resolve) => (started = resolve));
        const stream = pushStream<ChatCompletionChunk, ChatCompletion>((push) =>
          this.chatWith(request, options.signal, (chunk) => {
            started();
            push(chunk);
          }),
        );
        return Promise.race([firstChunk, stream.result]).then(() => stream);
      }) as {
        (request: ChatCompletionRequest & { stream: true }, options?: { signal?: AbortSignal }): Promise<AsyncIterable<ChatCompletionChunk>>;
        (request: ChatCompletionRequest & { stream?: false | null }, options?: { signal?: AbortSignal }): Promise<ChatCompletion>;
      },
    },
  };

  private generateWith(prompt: string, options: GenerateOptions, onText?: (chunk: string) => void): Promise<GenerationResult> {
    const { signal, ...rest } = options;
    return this.client.engineCall(signal, (engine, extra) => engine.generate(this.handle, prompt, { ...rest, ...extra }, onText && this.client.wrapCallback(onText)));
  }

  private chatWith(request: ChatCompletionRequest, signal: AbortSignal | undefined, onChunk?: (chunk: ChatCompletionChunk) => void): Promise<ChatCompletion> {
    return this.client.engineCall(signal, (engine, extra) => engine.chatCompletion(this.handle, request, extra, onChunk && this.client.wrapCallback(onChunk)));
  }

  async refreshInfo(): Promise<ModelInfo> {
    this.info = await this.client.engineCall(undefined, async (engine) => engine.info(this.handle));
    return this.info;
  }

  unload(): Promise<void> {
    return this.client.engineCall(undefined, (engine) => engine.unload(this.handle));
  }
}

/**
 * An AsyncIterable fed by callbacks, ending when `start`'s promise settles (rethrowing its error).
 * `tail` may add items the callbacks have not delivered by then.
 */
function pushStream<T, R>(start: (push: (item: T) => void) => Promise<R>, tail: (result: R) => T[] = () => []): AsyncIterable<T> & { result: Promise<R> } {
  const items: T[] = [];
  let settled = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  const result = start((item) => {
    if (settled) return;
    items.push(item);
    notify();
  }).then(
    (r) => {
      items.push(...tail(r));
      settled = true;
      notify();
      return r;
    },
    (err: unknown) => {
      failure = err;
      settled = true;
      notify();
      throw err;
    },
  );
  result.catch(() => {}); // the iterator rethrows; an unobserved result must not be reported twice
  return {
    result,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length) {
          yield items.shift()!;
          continue;
        }
        if (settled) {
          if (failure) throw failure;
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

function pageEnv(): RuntimeEnv {
  return defaultEnv(new URL(import.meta.env.BASE_URL, globalThis.location.href).href);
}
