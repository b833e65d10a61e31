/**
 * What an embedder uses on the page: spawns the engine worker the Vite way (or runs the engine
 * in-page), and turns worker callbacks into AsyncIterables and AbortSignals into abort requests.
 */
import type * as ComlinkTypes from 'comlink';
import { defaultEnv, type RuntimeEnv } from '../env.ts';
import type { EngineApi, RequestOptions, TrainingProgress } from '../engine/api.ts';
import { ClientTerminatedError } from '../errors.ts';
import type { SkillDefinition } from '../skills/service.ts';
import type { SealedSkill } from '../skills/skill.ts';
import type { SearchHit } from '../search/document-store.ts';
import { installErrorTransfer } from '../rpc.ts';
import type { CachedModel } from '../storage/weight-cache.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../openai/types.ts';
import type { ClassifierHead, TrainingReport, TrainOptions } from '../engine/tasks/classify.ts';
import type { FineTuneExample, FineTuneOptions, FineTuneReport } from '../training/fine-tune.ts';
import type { ExtractOptions, ExtractionResult, GenerateOptions, GenerationResult, LoadOptions, ModelInfo, StorageUsage } from '../types.ts';

type RemoteEngine = ComlinkTypes.Remote<EngineApi>;
/** The engine as the client reaches it: in-page, or across the worker (every call then returns a promise). */
type AnyEngine = EngineApi | RemoteEngine;

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
  private terminated = false;
  /** Calls not settled yet, with the handle they run on. */
  private readonly inFlight = new Map<Promise<unknown>, string | undefined>();
  /** Rejects every call still waiting when the client is terminated (a terminated worker never answers). */
  private readonly ended: Promise<never>;
  private end!: (err: ClientTerminatedError) => void;

  private constructor(
    private readonly engine: AnyEngine,
    private readonly comlink: typeof ComlinkTypes | null,
    private readonly worker: Worker | null,
  ) {
    this.ended = new Promise<never>((_, reject) => (this.end = reject));
    this.ended.catch(() => {}); // observed through each call's race
  }

  /** Starts the engine in a dedicated module worker served by the app itself. */
  static async inWorker(options: ClientOptions & { worker?: Worker } = {}): Promise<SlmClient> {
    const Comlink = installErrorTransfer();
    const worker = options.worker ?? new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'slm-engine' });
    const engine = Comlink.wrap<EngineApi>(worker);
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
    const info = await this.engineCall(signal, (engine, extra) => engine.load(model, { ...rest, ...extra }, onProgress && this.callback(onProgress)));
    return new ModelHandle(this, info);
  }

  models(): Promise<ModelInfo[]> {
    return this.engineCall(undefined, async (engine) => engine.list());
  }

  /** Saved skills, by name. */
  listSkills(): Promise<SealedSkill[]> {
    return this.engineCall(undefined, async (engine) => engine.listSkills());
  }

  deleteSkill(name: string): Promise<void> {
    return this.engineCall(undefined, async (engine) => engine.deleteSkill(name));
  }

  /** A skill as one JSON file to save or share (its content sealed with SHA-256). */
  exportSkill(name: string): Promise<string> {
    return this.engineCall(undefined, async (engine) => engine.exportSkill(name));
  }

  /** Imports a skill file; a modified file is an IntegrityError, one for a model not loaded or cached a ModelNotFoundError. */
  importSkill(file: string): Promise<SealedSkill> {
    return this.engineCall(undefined, async (engine) => engine.importSkill(file));
  }

  /** Deletes a search collection and its stored embeddings. */
  deleteCollection(collection: string): Promise<void> {
    return this.engineCall(undefined, async (engine) => engine.deleteCollection(collection));
  }

  /** Cached model revisions (bytes, last use), most recent first. */
  cachedModels(): Promise<CachedModel[]> {
    return this.engineCall(undefined, async (engine) => engine.cachedModels());
  }

  /** Deletes one cached model revision and all its chunks. */
  deleteCachedModel(key: string): Promise<void> {
    return this.engineCall(undefined, async (engine) => engine.deleteCachedModel(key));
  }

  clearCache(): Promise<void> {
    return this.engineCall(undefined, async (engine) => engine.clearCache());
  }

  storageUsage(): Promise<StorageUsage> {
    return this.engineCall(undefined, async (engine) => engine.storageUsage());
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

  /**
   * Stops the worker at once; every model in it is gone. Calls still waiting and every later call
   * reject with ClientTerminatedError.
   */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.endingCalls();
    this.end(new ClientTerminatedError('the client was terminated; create a new one to load models again'));
    if (this.comlink) (this.engine as RemoteEngine)[this.comlink.releaseProxy]();
    this.worker?.terminate();
  }

  /**
   * @internal The one way handles reach the engine: the signal becomes a request id across the worker.
   * `handle` names the model the call runs on, so unload() can tell which calls it ends.
   */
  engineCall<T>(signal: AbortSignal | undefined, fn: (engine: AnyEngine, extra: RequestOptions) => Promise<T>, handle?: string): Promise<T> {
    if (this.terminated) return this.ended;
    const settled = Promise.race([this.call(signal, (extra) => fn(this.engine, extra)), this.ended]);
    // A promise of our own, so that tracking it adds no handler to what the caller receives.
    const call = new Promise<T>((resolve, reject) => {
      settled.then(resolve, reject).finally(() => this.inFlight.delete(call));
    });
    this.inFlight.set(call, handle);
    return call;
  }

  /**
   * @internal Calls on `handle` (every call when undefined) are being ended on purpose (unload,
   * terminate): their rejection is not reported as unhandled; whoever awaits them still gets it.
   */
  endingCalls(handle?: string): void {
    for (const [call, on] of this.inFlight) if (handle === undefined || on === handle) call.catch(() => {});
  }

  /** @internal */
  wrapCallback<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return this.callback(fn);
  }

  /** In-page the signal goes straight through; across the worker it becomes a request id plus abort(). */
  private async call<T>(signal: AbortSignal | undefined, fn: (extra: RequestOptions) => Promise<T>): Promise<T> {
    if (!this.comlink || !signal) return fn(signal ? { signal } : {});
    const requestId = `r${++requestCounter}`;
    const abort = (): void => {
      // After terminate() there is no worker left to tell.
      if (!this.terminated) void Promise.resolve(this.engine.abort(requestId)).catch(() => {});
    };
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
    return this.call(signal, (engine, extra) => engine.extract(this.handle, text, schema, { ...rest, ...extra }));
  }

  /** Embeddings (L2-normalised mean-pooled final hidden states), one per text. */
  embed(texts: string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    return this.call(options.signal, (engine, extra) => engine.embed(this.handle, texts, extra));
  }

  /** Zero-shot classification by label likelihood: a probability per label, summing to 1. */
  classifyZeroShot(text: string, labels: string[], options: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    return this.call(options.signal, (engine, extra) => engine.classifyZeroShot(this.handle, text, labels, extra));
  }

  /** Trains a classifier head on labelled examples, in the worker; reports held-out accuracy and a confusion matrix. */
  trainClassifier(
    examples: Array<{ text: string; label: string }>,
    options: TrainOptions & { signal?: AbortSignal; onProgress?: (p: TrainingProgress) => void } = {},
  ): Promise<TrainingReport> {
    const { signal, onProgress, ...train } = options;
    return this.call(signal, (engine, extra) => engine.trainClassifier(this.handle, examples, { ...train, ...extra }, onProgress && this.client.wrapCallback(onProgress)));
  }

  /**
   * Fine-tunes a LoRA adapter on the examples, in the worker; the base weights are not changed. The adapter
   * is then usable by its name (`{ adapter: options.name }` in generate, chat and extract) and by saveSkill.
   */
  fineTune(examples: FineTuneExample[], options: FineTuneOptions): Promise<FineTuneReport> {
    const { signal, onProgress, ...train } = options;
    return this.call(signal, (engine, extra) => engine.fineTune(this.handle, examples, { ...train, ...extra }, onProgress && this.client.wrapCallback(onProgress)));
  }

  /** Embeds documents and stores them in IndexedDB under `collection`, for search(). */
  indexDocuments(collection: string, docs: Array<{ id: string; text: string }>, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.call(options.signal, (engine, extra) => engine.indexDocuments(this.handle, collection, docs, extra));
  }

  /** The k stored documents of `collection` most similar to `query` (cosine), best first. */
  search(collection: string, query: string, k = 5, options: { signal?: AbortSignal } = {}): Promise<SearchHit[]> {
    return this.call(options.signal, (engine, extra) => engine.search(this.handle, collection, query, k, extra));
  }

  /** Saves a skill bound to this model (its id and revision). */
  saveSkill(definition: SkillDefinition): Promise<SealedSkill> {
    return this.call(undefined, (engine) => engine.saveSkill(this.handle, definition));
  }

  /** Runs a saved skill on this model: a label distribution (classifier, zero-shot) or a JSON value (extractor). */
  runSkill(name: string, input: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    return this.call(options.signal, (engine, extra) => engine.runSkill(this.handle, name, input, extra));
  }

  /** Applies a trained head: a probability per label. */
  classify(head: ClassifierHead, text: string, options: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    return this.call(options.signal, (engine, extra) => engine.classify(this.handle, head, text, extra));
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
    return this.call(signal, (engine, extra) => engine.generate(this.handle, prompt, { ...rest, ...extra }, onText && this.client.wrapCallback(onText)));
  }

  private chatWith(request: ChatCompletionRequest, signal: AbortSignal | undefined, onChunk?: (chunk: ChatCompletionChunk) => void): Promise<ChatCompletion> {
    return this.call(signal, (engine, extra) => engine.chatCompletion(this.handle, request, extra, onChunk && this.client.wrapCallback(onChunk)));
  }

  async refreshInfo(): Promise<ModelInfo> {
    this.info = await this.call(undefined, async (engine) => engine.info(this.handle));
    return this.info;
  }

  /** Frees the model; calls still running or waiting on it reject (AbortError, ModelNotLoadedError). */
  unload(): Promise<void> {
    this.client.endingCalls(this.handle);
    return this.call(undefined, (engine) => engine.unload(this.handle));
  }

  private call<T>(signal: AbortSignal | undefined, fn: (engine: AnyEngine, extra: RequestOptions) => Promise<T>): Promise<T> {
    return this.client.engineCall(signal, fn, this.handle);
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
  // import.meta.env is Vite's; other bundlers leave it undefined, and then the app is served from the root.
  const base = (import.meta.env as Partial<ImportMetaEnv> | undefined)?.BASE_URL ?? '/';
  const page = globalThis.document?.baseURI ?? globalThis.location.href;
  return defaultEnv(new URL(base, page).href, page);
}
