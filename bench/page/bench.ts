/**
 * The benchmark page (built with the harness, driven by bench/run.ts): our runtime through its public
 * worker API, transformers.js in its own worker, and the cache against bare IndexedDB.
 */
import { Wllama } from '@wllama/wllama/esm/index.js'; // the built ESM (the package root points TypeScript at its sources)
import wllamaWasm from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import * as Comlink from 'comlink';
import { extractionPrompt, SlmClient, type ChatMessage, type DeviceRequest, type Dtype, type FineTuneExample, type FineTuneOptions, type ModelHandle, type ModelInfo } from '../../src/index.ts';
import { openStores } from '../../src/storage/stores.ts';
import type { BaselineApi, Run } from './types.ts';

let ours: { client: SlmClient; model: ModelHandle } | null = null;
let baseline: { worker: Worker; api: Comlink.Remote<BaselineApi> } | null = null;
let llamaCpp: Wllama | null = null;

const bench = {
  crossOriginIsolated: () => globalThis.crossOriginIsolated,

  /** Loads through the worker; `threads` undefined leaves the choice to the runtime (its default). Returns ms. */
  async oursOpen(model: string, dtype: Dtype, threads?: number, device: DeviceRequest = 'wasm'): Promise<number> {
    await bench.oursClose();
    const client = await SlmClient.inWorker();
    const started = performance.now();
    const handle = await client.load(model, { dtype, device, ...(threads !== undefined && { threads }) });
    ours = { client, model: handle };
    return performance.now() - started;
  },
  /** `adapter`: the name of an adapter fineTune made on this model (absent: the base model). */
  async oursGenerate(prompt: string, maxNewTokens: number, adapter?: string): Promise<Run> {
    const { stats } = await ours!.model.generate(prompt, { maxNewTokens, minNewTokens: maxNewTokens, ...(adapter && { adapter }) });
    return {
      promptTokens: stats.promptTokens,
      tokens: stats.generatedTokens,
      ttftMs: stats.timeToFirstTokenMs,
      prefillTokensPerSecond: stats.prefillTokensPerSecond,
      decodeTokensPerSecond: stats.decodeTokensPerSecond,
    };
  },
  /** Wall-clock as seen by the caller, through the streaming API: first chunk, then the end. */
  async oursGenerateWall(prompt: string, maxNewTokens: number): Promise<Run & { text: string }> {
    let first = 0;
    const started = performance.now();
    const stream = ours!.model.stream(prompt, { maxNewTokens, minNewTokens: maxNewTokens });
    for await (const _chunk of stream) if (!first) first = performance.now();
    const { text, stats } = await stream.result;
    const ended = performance.now();
    return {
      text,
      promptTokens: stats.promptTokens,
      tokens: stats.generatedTokens,
      ttftMs: first - started,
      prefillTokensPerSecond: (stats.promptTokens * 1000) / (first - started),
      decodeTokensPerSecond: ((stats.generatedTokens - 1) * 1000) / (ended - first),
    };
  },
  /** The WASM threads the loaded model runs with (the runtime's choice when oursOpen was given none). */
  oursThreads: (): number => ours!.model.info.threads,
  /** Backend, its reason and whether it fell back, as the model reports them now (after a fine-tune too). */
  oursInfo: async (): Promise<ModelInfo> => ours!.model.refreshInfo(),
  /**
   * fineTune on the loaded model: caller-side wall-clock ms of the whole call, the training tokens/s of its
   * last progress report, and the report's loss curves.
   */
  async oursFineTune(examples: FineTuneExample[], options: Omit<FineTuneOptions, 'signal' | 'onProgress'>): Promise<{ ms: number; tokensPerSecond: number; trainLoss: number[]; heldOutLoss: number[] }> {
    let tokensPerSecond = NaN;
    const started = performance.now();
    const report = await ours!.model.fineTune(examples, { ...options, onProgress: (p) => void (tokensPerSecond = p.tokensPerSecond) });
    return { ms: performance.now() - started, tokensPerSecond, trainLoss: report.trainLoss.map((l) => l.loss), heldOutLoss: report.heldOutLoss.map((l) => l.loss) };
  },
  /**
   * A conversation of `turns` user messages through the OpenAI-compatible chat API, each reply (at most
   * `maxTokens`, greedy) fed back as the assistant's message: caller-side ms to the first content chunk, per turn.
   */
  async oursChat(system: string, turns: string[], maxTokens: number): Promise<{ ttftMs: number[]; replies: string[] }> {
    const messages: ChatMessage[] = [{ role: 'system', content: system }];
    const r = { ttftMs: [] as number[], replies: [] as string[] };
    for (const content of turns) {
      messages.push({ role: 'user', content });
      const started = performance.now();
      let first = 0;
      let reply = '';
      for await (const chunk of await ours!.model.chat.completions.create({ messages, max_tokens: maxTokens, temperature: 0, stream: true })) {
        const delta = chunk.choices[0]?.delta.content ?? '';
        if (delta && !first) first = performance.now();
        reply += delta;
      }
      r.ttftMs.push((first || performance.now()) - started);
      r.replies.push(reply);
      messages.push({ role: 'assistant', content: reply });
    }
    return r;
  },
  /** Constrained extraction (a fixed-length string, so every run decodes the same tokens) vs. plain generation of as many tokens. */
  async oursConstrained(): Promise<{ constrained: number; unconstrained: number; tokens: number }> {
    const schema = { type: 'string', minLength: 160, maxLength: 160 };
    const { stats } = await ours!.model.extract('Once upon a time', schema, { temperature: 0.8, seed: 1 });
    const plain = await ours!.model.generate(extractionPrompt('Once upon a time'), { maxNewTokens: stats.generatedTokens, minNewTokens: stats.generatedTokens, temperature: 0.8, seed: 1 });
    return { constrained: stats.decodeTokensPerSecond, unconstrained: plain.stats.decodeTokensPerSecond, tokens: stats.generatedTokens };
  },
  /**
   * Extraction cases (text and schema), greedy, with drafts checked in one run (jump-forward, prompt
   * lookup) or without: wall-clock per document and constrained decode tokens/s; with `unconstrained`,
   * also plain generation of as many tokens from the same texts (unconstrained decode tokens/s).
   */
  async oursExtractCases(cases: Array<{ text: string; schema: object }>, lookahead: boolean, unconstrained: boolean): Promise<{ msPerDocument: number; constrained: number; unconstrained: number; tokens: number; accepted: number }> {
    const r = { ms: 0, constrained: 0, unconstrained: 0, tokens: 0, accepted: 0 };
    for (const { text, schema } of cases) {
      const started = performance.now();
      const { stats } = await ours!.model.extract(text, schema, { lookahead });
      r.ms += performance.now() - started;
      r.constrained += stats.decodeTokensPerSecond / cases.length;
      r.tokens += stats.generatedTokens;
      r.accepted += stats.acceptedDraftTokens ?? 0;
      if (!unconstrained) continue;
      const plain = await ours!.model.generate(extractionPrompt(text), { maxNewTokens: stats.generatedTokens, minNewTokens: stats.generatedTokens });
      r.unconstrained += plain.stats.decodeTokensPerSecond / cases.length;
    }
    return { msPerDocument: r.ms / cases.length, constrained: r.constrained, unconstrained: r.unconstrained, tokens: r.tokens, accepted: r.accepted };
  },
  /** Milliseconds to train a classifier (features and head) on `examples`. */
  async oursTrain(examples: Array<{ text: string; label: string }>): Promise<number> {
    const started = performance.now();
    await ours!.model.trainClassifier(examples, { seed: 1 });
    return performance.now() - started;
  },
  async oursClose(): Promise<void> {
    ours?.client.terminate();
    ours = null;
  },

  async baselineOpen(model: string, dtype: Dtype, threads: number, browserCache = false): Promise<number> {
    await bench.baselineClose();
    const worker = new Worker(new URL('./tjs.worker.ts', import.meta.url), { type: 'module', name: 'transformers-js' });
    const api = Comlink.wrap<BaselineApi>(worker);
    baseline = { worker, api };
    return api.load(model, dtype, threads, browserCache);
  },
  baselineGenerate: (prompt: string, maxNewTokens: number): Promise<Run> => baseline!.api.generate(prompt, maxNewTokens),
  baselineChat: (system: string, turns: string[], maxTokens: number): Promise<{ ttftMs: number[]; replies: string[] }> => baseline!.api.chat(system, turns, maxTokens),
  async baselineClose(): Promise<void> {
    baseline?.worker.terminate();
    baseline = null;
  },

  /** llama.cpp in WASM (wllama), its wasm served by this app; loads a GGUF from our model folder. */
  async wllamaOpen(url: string, threads: number): Promise<number> {
    await bench.wllamaClose();
    llamaCpp = new Wllama({ default: wllamaWasm }, { suppressNativeLog: true });
    const started = performance.now();
    await llamaCpp.loadModelFromUrl(new URL(url, location.href).href, { n_threads: threads, n_ctx: 512, n_batch: 512 });
    return performance.now() - started;
  },
  /** Wall-clock as seen by the caller: first streamed chunk, then the end. */
  async wllamaGenerate(prompt: string, maxNewTokens: number): Promise<Run & { text: string }> {
    let first = 0;
    let text = '';
    let promptTokens = 0;
    const started = performance.now();
    await llamaCpp!.createCompletion({
      prompt,
      max_tokens: maxNewTokens,
      temperature: 0,
      ignore_eos: true,
      stream: true,
      onData: (chunk) => {
        if (!first) first = performance.now();
        text += chunk.choices[0]?.text ?? '';
        if (chunk.timings) promptTokens = chunk.timings.prompt_n;
      },
    });
    const ended = performance.now();
    return {
      text,
      promptTokens,
      tokens: maxNewTokens,
      ttftMs: first - started,
      prefillTokensPerSecond: (promptTokens * 1000) / (first - started),
      decodeTokensPerSecond: ((maxNewTokens - 1) * 1000) / (ended - first),
    };
  },
  async wllamaClose(): Promise<void> {
    await llamaCpp?.exit();
    llamaCpp = null;
  },

  /** load() to first token, in a fresh worker: cold or warm depending on what the caches hold. */
  async oursStartup(model: string, dtype: Dtype): Promise<number> {
    const started = performance.now();
    await bench.oursOpen(model, dtype, 1);
    await bench.oursGenerate('Once upon a time', 1);
    await bench.oursClose();
    return performance.now() - started;
  },
  /** load() to first token with wllama: cold when its OPFS cache was cleared, warm otherwise. */
  async wllamaStartup(url: string): Promise<number> {
    const started = performance.now();
    await bench.wllamaOpen(url, 1);
    await bench.wllamaGenerate('Once upon a time', 1);
    await bench.wllamaClose();
    return performance.now() - started;
  },
  async baselineStartup(model: string, dtype: Dtype): Promise<number> {
    const started = performance.now();
    await bench.baselineOpen(model, dtype, 1, true);
    await bench.baselineGenerate('Once upon a time', 1);
    await bench.baselineClose();
    return performance.now() - started;
  },
  async clearStorage(): Promise<void> {
    const client = await SlmClient.inWorker();
    await client.clearCache();
    client.terminate();
    for (const name of await caches.keys()) await caches.delete(name);
    // wllama keeps downloaded GGUF files in the origin-private file system.
    const opfs = await navigator.storage.getDirectory();
    for await (const name of (opfs as unknown as { keys(): AsyncIterable<string> }).keys()) await opfs.removeEntry(name, { recursive: true });
  },

  /** MB/s writing and reading `megabytes` through the weight cache, and as bare IndexedDB puts/gets of the same chunks. */
  async cacheThroughput(megabytes: number): Promise<{ oursWrite: number; oursRead: number; bareWrite: number; bareRead: number }> {
    const chunkBytes = 4 * 1024 * 1024;
    const bytes = new Uint8Array(megabytes * 1024 * 1024);
    for (let at = 0; at < bytes.byteLength; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
    const mbps = (ms: number): number => (megabytes * 1000) / ms;

    const cache = (await openStores({ dbName: 'bench-cache', chunkBytes })).weights;
    const ref = { id: 'bench', revision: 'r', baseUrl: 'bench:', manifest: null };
    let t = performance.now();
    await cache.put(ref, 'blob', bytes);
    const oursWrite = mbps(performance.now() - t);
    t = performance.now();
    const back = await cache.match(ref, 'blob');
    const oursRead = mbps(performance.now() - t);
    if (back?.byteLength !== bytes.byteLength) throw new Error('cache read-back failed');
    await cache.clear();

    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('bench-bare', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('chunks');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const done = (tx: IDBTransaction): Promise<void> => new Promise((resolve, reject) => ((tx.oncomplete = () => resolve()), (tx.onerror = () => reject(tx.error))));
    t = performance.now();
    for (let at = 0, i = 0; at < bytes.byteLength; at += chunkBytes, i++) {
      const tx = db.transaction('chunks', 'readwrite');
      tx.objectStore('chunks').put(bytes.slice(at, at + chunkBytes).buffer, i);
      await done(tx);
    }
    const bareWrite = mbps(performance.now() - t);
    t = performance.now();
    const tx = db.transaction('chunks', 'readonly');
    const all = await new Promise<ArrayBuffer[]>((resolve) => {
      const r = tx.objectStore('chunks').getAll();
      r.onsuccess = () => resolve(r.result as ArrayBuffer[]);
    });
    const joined = new Uint8Array(bytes.byteLength);
    let offset = 0;
    for (const c of all) {
      joined.set(new Uint8Array(c), offset);
      offset += c.byteLength;
    }
    const bareRead = mbps(performance.now() - t);
    db.close();
    indexedDB.deleteDatabase('bench-bare');
    return { oursWrite, oursRead, bareWrite, bareRead };
  },
};

export type BenchPage = typeof bench;
(window as unknown as { bench: BenchPage }).bench = bench;
document.body.dataset.ready = 'true';
