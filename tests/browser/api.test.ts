/**
 * The public API in real Chromium (WASM), through the worker exactly as an embedder uses it: streaming,
 * abort, queueing, several models, seeded sampling, and a typed error for every bad input followed by
 * a successful generation in the same worker. Test bodies are typed functions run in the page
 * (support/page-calls.ts).
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, GenerationResult } from '../../src/index.ts';
import { KNOWN_GOOD } from '../support/sources.ts';
import { serveVariant } from './support/fixtures.ts';
import { openHarness, useBrowser } from './support/browser.ts';
import { failureOf, inPage, type Failure } from './support/page-calls.ts';

describe('runtime API in a Web Worker (WASM)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;

  const ok = <A, R>(body: (arg: A) => Promise<R>, arg?: A): Promise<R> => inPage(page, body, arg);
  const fails = <A>(body: (arg: A) => Promise<unknown>, arg?: A): Promise<Failure> => failureOf(page, body, arg);

  /** The worker still serves: a short greedy generation gives the reference text. */
  const stillWorks = async (): Promise<void> => {
    const text = await ok(async (prompt) => (await window.model.generate(prompt, { maxNewTokens: 12 })).text, KNOWN_GOOD.prompt);
    expect(KNOWN_GOOD.text.startsWith(KNOWN_GOOD.prompt + text)).toBe(true);
  };

  beforeAll(async () => {
    page = await openHarness(browser());
    await ok(async () => {
      window.client = await window.slm.SlmClient.inWorker();
      window.model = await window.client.load('stories260k', { dtype: 'fp32' });
      return window.model.info;
    });
  });

  it('streams the known-good greedy text in chunks whose concatenation is the result', async () => {
    const r = await ok(async (prompt) => {
      const stream = window.model.stream(prompt, { maxNewTokens: 40 });
      const chunks: string[] = [];
      for await (const c of stream) chunks.push(c);
      const result = await stream.result;
      return { chunks, text: result.text, finishReason: result.finishReason, stats: result.stats, info: window.model.info };
    }, KNOWN_GOOD.prompt);
    expect(r.chunks.length).toBeGreaterThan(10);
    expect(r.chunks.join('')).toBe(r.text);
    expect((KNOWN_GOOD.prompt + r.text).startsWith(KNOWN_GOOD.text)).toBe(true);
    expect(r.finishReason).toBe('length');
    expect(r.stats).toMatchObject({ generatedTokens: 40, promptTokens: 5, backend: 'wasm' });
    expect(r.info.backend).toBe('wasm');
    expect(r.info.backendReason).toMatch(/WebGPU unavailable/);
  });

  it('reports load phases and per-call metrics', async () => {
    const r = await ok(async () => {
      const result = await window.model.generate('The cat', { maxNewTokens: 16 });
      return { info: window.model.info, stats: result.stats };
    });
    expect(r.info).toMatchObject({ dtype: 'fp32', backend: 'wasm', threads: 1, crossOriginIsolated: true, contextLength: 512, vocabSize: 512 });
    const load = r.info.load as unknown as Record<string, number>;
    for (const k of ['fetchMs', 'compileMs', 'warmupMs', 'totalMs']) expect(load[k]).toBeGreaterThan(0);
    expect(r.stats.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(r.stats.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(r.stats.prefillTokensPerSecond).toBeGreaterThan(0);
  });

  it('sampling is reproducible with a seed and stop strings end the text before them', async () => {
    const r = await ok(async () => {
      const opts = { maxNewTokens: 40, temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.1 };
      const a = (await window.model.generate('Once upon a time', { ...opts, seed: 7 })).tokenIds;
      const b = (await window.model.generate('Once upon a time', { ...opts, seed: 7 })).tokenIds;
      const c = (await window.model.generate('Once upon a time', { ...opts, seed: 8 })).tokenIds;
      const stopped = await window.model.generate('Once upon a time', { maxNewTokens: 40, stop: ['Lily'] });
      return { a, b, c, stopped };
    });
    expect(r.a).toEqual(r.b);
    expect(r.c).not.toEqual(r.a);
    expect(r.stopped).toEqual({ ...r.stopped, text: ', there was a little girl named ', finishReason: 'stop' });
  });

  it('abort mid-stream ends within one token, and the next generation works', async () => {
    const r = await ok(async () => {
      const controller = new AbortController();
      let before = 0;
      try {
        for await (const _chunk of window.model.stream('Once upon a time', { maxNewTokens: 400, signal: controller.signal })) {
          if (++before === 5) controller.abort();
        }
      } catch (e) {
        const err = e as { name: string; code: string; details: Record<string, unknown> };
        return { failure: { name: err.name, code: err.code, details: err.details }, before };
      }
      throw new Error('the stream ended without an abort');
    });
    expect(r.failure.code).toBe('aborted');
    expect(r.failure.name).toBe('AbortError');
    expect(r.failure.details.tokensAfterAbort).toBeLessThanOrEqual(1);
    expect(r.failure.details.generatedTokens as number).toBeLessThan(400);
    await stillWorks();
  });

  it('queues two generations on one model and runs both to completion', async () => {
    const r = await ok(async () => {
      const [a, b] = await Promise.all([window.model.generate('Once upon a time', { maxNewTokens: 20 }), window.model.generate('Once upon a time', { maxNewTokens: 20 })]);
      return [a.text, b.text];
    });
    expect(r[0]).toBe(r[1]);
    expect(KNOWN_GOOD.text.startsWith(KNOWN_GOOD.prompt + r[0])).toBe(true);
  });

  it('holds several models by handle and frees them on unload', async () => {
    const r = await ok(async () => {
      const q4 = await window.client.load('stories260k', { dtype: 'q4' });
      const q8 = await window.client.load('stories260k', { dtype: 'q8' });
      const texts = [(await q4.generate('Once upon a time', { maxNewTokens: 8 })).text, (await q8.generate('Once upon a time', { maxNewTokens: 8 })).text];
      const listed = await window.client.models();
      await q4.unload();
      await q8.unload();
      return { handles: listed.map((m) => m.handle), dtypes: listed.map((m) => m.dtype), texts, after: (await window.client.models()).length };
    });
    expect(r.handles).toHaveLength(3);
    expect(new Set(r.handles).size).toBe(3);
    expect(r.dtypes.sort()).toEqual(['fp32', 'q4', 'q8']);
    for (const t of r.texts) expect(t.length).toBeGreaterThan(5);
    expect(r.after).toBe(1);
  });

  describe('OpenAI-compatible chat', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'A story for children.' },
      { role: 'user', content: 'Tell me about Lily.' },
    ];

    it('returns a chat.completion whose content and usage match a plain generation of the documented prompt', async () => {
      const r = await ok(async (messages) => {
        const completion: ChatCompletion = await window.model.chat.completions.create({ messages, max_tokens: 24 });
        const plain: GenerationResult = await window.model.generate(window.slm.defaultChatPrompt(messages), { maxNewTokens: 24 });
        return { completion, plain };
      }, messages);
      const c = r.completion;
      expect(c.id).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
      expect(c.object).toBe('chat.completion');
      expect(Number.isInteger(c.created) && Math.abs(c.created - Date.now() / 1000) < 120).toBe(true);
      expect(c.model).toBe('stories260k');
      expect(c.choices).toEqual([{ index: 0, message: { role: 'assistant', content: r.plain.text, refusal: null }, finish_reason: 'length', logprobs: null }]);
      expect(c.usage).toEqual({ prompt_tokens: r.plain.stats.promptTokens, completion_tokens: 24, total_tokens: r.plain.stats.promptTokens + 24 });
    });

    it('streams chat.completion.chunks: role first, content deltas, finish_reason, then usage', async () => {
      const { chunks, whole } = await ok(async (messages) => {
        const chunks: ChatCompletionChunk[] = [];
        for await (const chunk of await window.model.chat.completions.create({ messages, max_tokens: 24, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
        const whole = await window.model.chat.completions.create({ messages, max_tokens: 24 });
        return { chunks, whole };
      }, messages);
      expect(chunks.length).toBeGreaterThan(5);
      for (const c of chunks) {
        expect(c).toMatchObject({ id: chunks[0]!.id, object: 'chat.completion.chunk', created: chunks[0]!.created, model: 'stories260k' });
      }
      expect(chunks[0]!.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null });
      const content = chunks.flatMap((c) => c.choices).map((ch) => ch.delta.content ?? '').join('');
      expect(content).toBe(whole.choices[0]!.message.content);
      const finished = chunks.at(-2)!;
      expect(finished.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'length', logprobs: null });
      expect(finished.usage).toBeNull();
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: whole.usage });
    });

    it("finish_reason is 'stop' at a stop string, with the text before it", async () => {
      const c = await ok(async () => window.model.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 60, stop: '.' }));
      expect(c.choices[0]!.finish_reason).toBe('stop');
      expect(c.choices[0]!.message.content).not.toContain('.');
      expect(c.usage.completion_tokens).toBeLessThan(60);
    });

    it('response_format json_schema returns content that parses and validates', async () => {
      const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
      const c = await ok(
        async (schema) =>
          window.model.chat.completions.create({
            messages: [{ role: 'user', content: 'Lily is five.' }],
            temperature: 0.8,
            seed: 3,
            response_format: { type: 'json_schema', json_schema: { name: 'person', schema } },
          }),
        schema,
      );
      const value = JSON.parse(c.choices[0]!.message.content!);
      expect(Object.keys(value)).toEqual(['name', 'age']);
      expect(typeof value.name === 'string' && value.name.length <= 12 && Number.isInteger(value.age)).toBe(true);
      expect(c.choices[0]!.finish_reason).toBe('stop');
    });

    it.each([
      ['n > 1', { messages: [{ role: 'user', content: 'x' }], n: 2 }, /n must be 1/],
      ['no messages', { messages: [] }, /non-empty array/],
      ['an unknown role', { messages: [{ role: 'robot', content: 'x' }] }, /role must be system, user, assistant or tool/],
      ['json_object output (unsupported; json_schema is)', { messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }, /"json_object" is not supported/],
      ['a negative max_tokens', { messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }, /maxNewTokens/],
      ['an unknown field (a typo of max_tokens)', { messages: [{ role: 'user', content: 'x' }], max_token: 3 }, /unknown chat request field "max_token"/],
    ])('%s is an InvalidArgumentError and the worker keeps serving', async (_label, request, pattern) => {
      const f = await fails(async (request) => window.model.chat.completions.create(request as unknown as ChatCompletionRequest & { stream?: false }), request);
      expect(f).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
      expect(f.message).toMatch(pattern);
      await stillWorks();
    });
  });

  describe('each bad input gets its typed error and the worker keeps serving', () => {
    it('unknown bundled model id', async () => {
      const f = await fails(async () => window.client.load('no-such-model'));
      expect(f).toMatchObject({ name: 'ModelNotFoundError', code: 'model-not-found', isSlmError: true });
      expect(f.message).toMatch(/no bundled model "no-such-model"/);
      await stillWorks();
    });

    it('an HTML page (status 200) instead of the ONNX file', async () => {
      await serveVariant(page, 'html-instead', (file) => (file === 'onnx/model.onnx' ? { status: 200, body: '<!doctype html><title>app</title>', contentType: 'text/html' } : file === 'manifest.json' ? { status: 404, body: '' } : null));
      const f = await fails(async () => window.client.load('/models/html-instead/', { dtype: 'fp32' }));
      expect(f).toMatchObject({ name: 'InvalidModelFileError', code: 'invalid-model-file' });
      expect(f.message).toMatch(/html-instead\/onnx\/model\.onnx returned an HTML page/);
      await stillWorks();
    });

    it('a dtype whose file does not exist', async () => {
      await serveVariant(page, 'no-q4', (file) => (file === 'manifest.json' || file === 'onnx/model_q4.onnx' ? { status: 404, body: '' } : null));
      const f = await fails(async () => window.client.load('/models/no-q4/', { dtype: 'q4' }));
      expect(f).toMatchObject({ name: 'DtypeUnavailableError', code: 'dtype-unavailable' });
      expect(f.message).toMatch(/no q4 weights/);
      const named = await fails(async () => window.client.load('stories260k', { dtype: 'int3' as 'q4' }));
      expect(named).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
      await stillWorks();
    });

    it.each([
      ['negative maxNewTokens', ['x', { maxNewTokens: -1 }], /maxNewTokens/],
      ['temperature below 0', ['x', { temperature: -0.5 }], /temperature/],
      ['topP out of range', ['x', { topP: 1.5 }], /topP/],
      ['a non-string prompt', [42, {}], /prompt must be a string/],
      ['stop that is not a string array', ['x', { stop: 'Lily' }], /stop must be/],
      ['maxNewTokens NaN (named NaN, not null)', ['x', { maxNewTokens: 'NaN' }], /maxNewTokens must be a non-negative integer; got NaN$/],
      ['an unknown option (a typo of maxNewTokens)', ['x', { maxTokens: 4 }], /^unknown generation option "maxTokens"/],
    ] as const)('%s', async (_label, [prompt, options], pattern) => {
      // NaN does not survive JSON on the way into the page: 'NaN' stands for it there.
      const f = await fails(
        async ([prompt, options]) => window.model.generate(prompt as string, Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v === 'NaN' ? NaN : v]))),
        [prompt, options] as [unknown, Record<string, unknown>],
      );
      expect(f).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument', isSlmError: true });
      expect(f.message).toMatch(pattern);
      await stillWorks();
    });

    it('a prompt longer than the context window', async () => {
      const f = await fails(async () => window.model.generate('word '.repeat(700)));
      expect(f).toMatchObject({ name: 'ContextOverflowError', code: 'context-overflow' });
      expect(f.details).toMatchObject({ contextLength: 512 });
      await stillWorks();
    });

    it('generating after unload', async () => {
      const f = await fails(async () => {
        const m = await window.client.load('stories260k', { dtype: 'q4' });
        await m.unload();
        await m.generate('x');
      });
      expect(f).toMatchObject({ name: 'ModelNotLoadedError', code: 'model-not-loaded' });
      await stillWorks();
    });

    it('an AbortSignal aborts a load in progress', async () => {
      await serveVariant(page, 'slow', () => null, 1500);
      const f = await fails(async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 200);
        await window.client.load('/models/slow/', { dtype: 'fp32', signal: controller.signal });
      });
      expect(f).toMatchObject({ name: 'AbortError', code: 'aborted' });
      expect((await ok(async () => window.client.models())).length).toBe(1);
      await stillWorks();
    });
  });

  describe('races and the end of a client', () => {
    it('unloading a model 5 ms after a generation on it starts leaves no unhandled rejection in the page', async () => {
      const r = await ok(async () => {
        const unhandled: string[] = [];
        const listen = (e: PromiseRejectionEvent): number => unhandled.push(String((e.reason as Error)?.name ?? e.reason));
        window.addEventListener('unhandledrejection', listen);
        const b = await window.client.load('stories260k', { dtype: 'q4' });
        const running = b.generate('Once upon a time', { maxNewTokens: 200 });
        const waiting = b.generate('Once upon a time', { maxNewTokens: 200 });
        const streamed = b.stream('Once upon a time', { maxNewTokens: 200 });
        await new Promise((resolve) => setTimeout(resolve, 5));
        // As a caller writes it: unload first, then look at what became of the generations.
        await b.unload();
        const outcomes: string[] = [];
        for (const call of [running, waiting, streamed.result]) outcomes.push(await call.then(() => 'fulfilled', (e: Error) => e.name));
        await new Promise((resolve) => setTimeout(resolve, 200));
        window.removeEventListener('unhandledrejection', listen);
        return { outcomes, unhandled };
      });
      expect(r.unhandled).toEqual([]);
      expect(r.outcomes).toEqual(['AbortError', 'ModelNotLoadedError', 'ModelNotLoadedError']);
      await stillWorks();
    });

    it('after terminate(), calls waiting and new calls reject with ClientTerminatedError', async () => {
      const r = await ok(async () => {
        const client = await window.slm.SlmClient.inWorker();
        const m = await client.load('stories260k', { dtype: 'q4' });
        const unhandled: string[] = [];
        const listen = (e: PromiseRejectionEvent): number => unhandled.push(String((e.reason as Error)?.name ?? e.reason));
        window.addEventListener('unhandledrejection', listen);
        const waiting = m.generate('Once upon a time', { maxNewTokens: 400 });
        client.terminate();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const describe = (e: unknown): { name: string; code: string; typed: boolean } => ({ name: (e as Error).name, code: (e as { code: string }).code, typed: e instanceof window.slm.ClientTerminatedError });
        const later = await Promise.all([m.generate('x').catch(describe), client.load('stories260k').catch(describe), client.models().catch(describe)]);
        const result = { waiting: await waiting.catch(describe), later, unhandled };
        window.removeEventListener('unhandledrejection', listen);
        return result;
      });
      const terminated = { name: 'ClientTerminatedError', code: 'client-terminated', typed: true };
      expect(r.waiting).toEqual(terminated);
      expect(r.later).toEqual([terminated, terminated, terminated]);
      expect(r.unhandled).toEqual([]);
    });
  });
});
