/**
 * The engine's own policy in Node, on fake ORT sessions (tests/engine/support/fake-decoder.ts): the
 * per-model queue, abort and unload ordering, the backend choice and the fallback at run time, and
 * option checks at the door. The real open step and decode loop run; only the sessions are fakes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { WEBGPU_MAX_RUN } from '../../src/engine/generation/decoder.ts';
import { AbortError, BackendUnavailableError, InvalidArgumentError, ModelNotLoadedError } from '../../src/errors.ts';
import type { GenerationResult } from '../../src/types.ts';
import { expectedIds, fakeBackends, fakeLoader, type FakeBackends, type SessionScript } from './support/fake-decoder.ts';

const PROMPT = 'Once upon a time';
const OTHER = 'The cat sat';

async function engineOn(scripts: Parameters<typeof fakeBackends>[0] = {}, device: 'auto' | 'webgpu' | 'wasm' = 'auto'): Promise<{ engine: Engine; handle: string; backends: FakeBackends }> {
  const backends = fakeBackends(scripts);
  const engine = new Engine(fakeLoader(backends));
  const { handle } = await engine.load('stories260k', { device });
  return { engine, handle, backends };
}

/** The runs of the session in use, after the load's warm-up run. */
const runsOf = (backends: FakeBackends, backend: 'webgpu' | 'wasm' = 'webgpu') => (backend === 'webgpu' ? backends.webgpuBackend : backends.wasmBackend).sessions.at(-1)!.runs;

const slow: SessionScript = { delayMs: 5 };

describe('generation on a loaded model', () => {
  it("gives the model's greedy continuation, token for token", async () => {
    const { engine, handle, backends } = await engineOn();
    const result = await engine.generate(handle, PROMPT, { maxNewTokens: 8 });
    const prefill = runsOf(backends)[1]!.inputIds;
    expect(result.tokenIds).toEqual(expectedIds(prefill, 8));
    expect(result.finishReason).toBe('length');
    expect(result.stats).toMatchObject({ promptTokens: prefill.length, generatedTokens: 8, backend: 'webgpu' });
  });

  it('on WebGPU a long prompt runs in pieces of at most WEBGPU_MAX_RUN ids, each after the one before, and decodes as in one run', async () => {
    const { engine, handle, backends } = await engineOn();
    const long = Array.from({ length: 8 }, () => PROMPT).join(' and ');
    const start = runsOf(backends).length;
    const result = await engine.generate(handle, long, { maxNewTokens: 4 });
    const runs = runsOf(backends).slice(start, -3);
    const prompt = runs.flatMap((r) => r.inputIds);
    expect(prompt.length).toBe(result.stats.promptTokens);
    expect(prompt.length).toBeGreaterThan(2 * WEBGPU_MAX_RUN);
    expect(runs.map((r) => r.inputIds.length)).toEqual([prompt.length - 2 * WEBGPU_MAX_RUN, WEBGPU_MAX_RUN, WEBGPU_MAX_RUN]);
    expect(runs.map((r) => r.pastLength)).toEqual([0, prompt.length - 2 * WEBGPU_MAX_RUN, prompt.length - WEBGPU_MAX_RUN]);
    expect(result.tokenIds).toEqual(expectedIds(prompt, 4));
  });

  it('streams text deltas whose concatenation is the result text', async () => {
    const { engine, handle } = await engineOn();
    const deltas: string[] = [];
    const result = await engine.generate(handle, PROMPT, { maxNewTokens: 12 }, (t) => deltas.push(t));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(result.text);
  });
});

describe('the per-model queue', () => {
  it('runs two calls on one model one after the other, in call order', async () => {
    const { engine, handle, backends } = await engineOn({ webgpu: slow });
    const runs = runsOf(backends);
    const start = runs.length;
    const [a, b] = await Promise.all([engine.generate(handle, PROMPT, { maxNewTokens: 6 }), engine.generate(handle, OTHER, { maxNewTokens: 6 })]);
    // A: its prefill and 5 steps, all before B's prefill (a prefill feeds several ids; B's may reuse A's cached BOS).
    const order = runs.slice(start).map((r) => r.inputIds.length > 1);
    expect(order).toEqual([true, false, false, false, false, false, true, false, false, false, false, false]);
    expect(a.tokenIds).toEqual(expectedIds(runs[start]!.inputIds, 6));
    expect(b.tokenIds).toEqual(expectedIds(runs[start + 6]!.inputIds, 6));
  });

  it('an aborted call waiting in the queue fails at once and never runs; the running one completes', async () => {
    const { engine, handle, backends } = await engineOn({ webgpu: slow });
    const runs = runsOf(backends);
    const start = runs.length;
    let aDone = false;
    const a = engine.generate(handle, PROMPT, { maxNewTokens: 20 }).finally(() => (aDone = true));
    const stop = new AbortController();
    const b = engine.generate(handle, OTHER, { maxNewTokens: 20, signal: stop.signal });
    setTimeout(() => stop.abort(), 15);
    await expect(b).rejects.toBeInstanceOf(AbortError);
    expect(aDone).toBe(false);
    expect((await a).tokenIds).toHaveLength(20);
    expect(runs.slice(start).filter((r) => r.inputIds.length > 1)).toHaveLength(1);
  });

  it('an abort during a generation ends it within one token', async () => {
    const { engine, handle } = await engineOn({ webgpu: slow });
    const stop = new AbortController();
    let seen = 0;
    const failure = await engine.generate(handle, PROMPT, { maxNewTokens: 100, signal: stop.signal }, () => ++seen === 3 && stop.abort()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AbortError);
    expect((failure as AbortError).details.tokensAfterAbort).toBeLessThanOrEqual(1);
    expect((failure as AbortError).details.generatedTokens).toBeLessThan(10);
  });

  it('abort(requestId) aborts the call started with that id', async () => {
    const { engine, handle } = await engineOn({ webgpu: slow });
    const call = engine.generate(handle, PROMPT, { maxNewTokens: 100, requestId: 'r1' });
    setTimeout(() => engine.abort('r1'), 15);
    await expect(call).rejects.toBeInstanceOf(AbortError);
  });
});

describe('unload', () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown): number => unhandled.push(reason);
  beforeEach(() => void process.on('unhandledRejection', record));
  afterEach(() => void process.off('unhandledRejection', record));

  it('aborts the running call, fails queued ones with ModelNotLoadedError and releases the session', async () => {
    const { engine, handle, backends } = await engineOn({ webgpu: slow });
    const running = engine.generate(handle, PROMPT, { maxNewTokens: 100 });
    const queued = engine.generate(handle, OTHER, { maxNewTokens: 5 });
    const settled = Promise.allSettled([running, queued]);
    await new Promise((r) => setTimeout(r, 5));
    await engine.unload(handle);
    const [a, b] = await settled;
    expect((a as PromiseRejectedResult).reason).toBeInstanceOf(AbortError);
    expect((b as PromiseRejectedResult).reason).toBeInstanceOf(ModelNotLoadedError);
    expect(backends.webgpuBackend.sessions.at(-1)!.released).toBe(true);
    await expect(engine.generate(handle, PROMPT)).rejects.toBeInstanceOf(ModelNotLoadedError);
  });

  it('leaves no unhandled rejection when a generation is unloaded 5 ms after it starts', async () => {
    const { engine, handle } = await engineOn({ webgpu: slow });
    const running = engine.generate(handle, PROMPT, { maxNewTokens: 100 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 5));
    await engine.unload(handle);
    expect(await running).toBeInstanceOf(AbortError);
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });
});

describe('backend choice at load', () => {
  it('auto with a working adapter uses WebGPU and names the adapter', async () => {
    const { engine, handle } = await engineOn();
    expect(engine.info(handle)).toMatchObject({ backend: 'webgpu', backendReason: 'WebGPU adapter: fake adapter', fellBack: false });
  });

  it('auto without an adapter uses WASM, says why, and does not count it as a fallback', async () => {
    const { engine, handle, backends } = await engineOn({ probe: { ok: false, reason: 'no adapter' } });
    expect(engine.info(handle)).toMatchObject({ backend: 'wasm', backendReason: 'WebGPU unavailable (no adapter); using WASM', fellBack: false });
    expect(backends.webgpuBackend.sessions).toHaveLength(0);
  });

  it('a WebGPU session whose first run gives non-finite logits is released and WASM takes over', async () => {
    const { engine, handle, backends } = await engineOn({ webgpu: { nanOn: [1] } });
    expect(engine.info(handle)).toMatchObject({ backend: 'wasm', backendReason: 'WebGPU first run produced non-finite values; fell back to WASM', fellBack: true });
    expect(backends.webgpuBackend.sessions[0]!.released).toBe(true);
  });

  it('a WebGPU first run that throws falls back to WASM with the error in the reason', async () => {
    const { engine, handle } = await engineOn({ webgpu: { failOn: [1] } });
    expect(engine.info(handle)).toMatchObject({ backend: 'wasm', backendReason: 'WebGPU first run failed (fake run 1 failed); fell back to WASM', fellBack: true });
  });

  it("device 'webgpu' that cannot run is a BackendUnavailableError, and WASM is never tried", async () => {
    const backends = fakeBackends({ probe: { ok: false, reason: 'no adapter' } });
    const engine = new Engine(fakeLoader(backends));
    const failure = await engine.load('stories260k', { device: 'webgpu' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect((failure as Error).message).toBe('WebGPU was requested but no adapter');
    expect(backends.wasmBackend.sessions).toHaveLength(0);
    expect(engine.list()).toEqual([]);
  });

  it("device 'wasm' never opens a WebGPU session", async () => {
    const { engine, handle, backends } = await engineOn({}, 'wasm');
    expect(engine.info(handle)).toMatchObject({ backend: 'wasm', backendReason: 'WASM was requested', fellBack: false });
    expect(backends.webgpuBackend.sessions).toHaveLength(0);
  });

  it('the empty KV cache takes the element type the graph declares (fp16 here)', async () => {
    const { engine, handle, backends } = await engineOn({ webgpu: { kvType: 'float16' } });
    await engine.generate(handle, PROMPT, { maxNewTokens: 2 });
    const prefill = runsOf(backends).find((r) => r.pastLength === 0)!;
    expect(prefill.pastType).toBe('float16');
  });
});

describe('fallback at run time', () => {
  it('a WebGPU run that fails mid-generation moves the model to WASM and the text continues unchanged', async () => {
    // Run 1 is the load's warm-up; run 5 is the 4th step of the generation.
    const { engine, handle, backends } = await engineOn({ webgpu: { failOn: [5] } });
    const result: GenerationResult = await engine.generate(handle, PROMPT, { maxNewTokens: 8 });
    const gpuRuns = backends.webgpuBackend.sessions[0]!.runs;
    const prompt = gpuRuns[1]!.inputIds;
    expect(result.tokenIds).toEqual(expectedIds(prompt, 8));
    expect(engine.info(handle)).toMatchObject({ backend: 'wasm', backendReason: 'WebGPU run failed (fake run 5 failed); fell back to WASM', fellBack: true });
    // WASM validated itself, then took the whole history at once: the prompt and the 3 tokens before the failure.
    const wasmRuns = runsOf(backends, 'wasm');
    expect(wasmRuns[1]).toMatchObject({ pastLength: 0, inputIds: [...prompt, ...result.tokenIds.slice(0, 3)] });
    expect(backends.webgpuBackend.sessions[0]!.released).toBe(true);
  });

  it('a lost WebGPU device moves the model to WASM before the next call', async () => {
    const { engine, handle, backends } = await engineOn();
    backends.webgpuBackend.lose('device was lost: test');
    await expect.poll(() => engine.info(handle).backend).toBe('wasm');
    expect(engine.info(handle).backendReason).toBe('WebGPU device was lost: test; fell back to WASM');
    const result = await engine.generate(handle, PROMPT, { maxNewTokens: 5 });
    expect(result.tokenIds).toEqual(expectedIds(runsOf(backends, 'wasm')[1]!.inputIds, 5));
  });
});

describe('options are checked at the door', () => {
  it('a non-finite number is named as such', async () => {
    const { engine, handle } = await engineOn();
    await expect(engine.generate(handle, PROMPT, { maxNewTokens: NaN })).rejects.toThrow('maxNewTokens must be a non-negative integer; got NaN');
    await expect(engine.generate(handle, PROMPT, { temperature: Infinity })).rejects.toThrow('temperature must be a finite number ≥ 0; got Infinity');
  });

  it('an unknown generation option is an InvalidArgumentError naming it, and nothing runs', async () => {
    const { engine, handle, backends } = await engineOn();
    const before = runsOf(backends).length;
    const failure = await engine.generate(handle, PROMPT, { maxTokens: 4 } as never).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InvalidArgumentError);
    expect((failure as InvalidArgumentError).message).toMatch(/^unknown generation option "maxTokens"; known: maxNewTokens, /);
    expect((failure as InvalidArgumentError).details.unknown).toEqual(['maxTokens']);
    expect(runsOf(backends)).toHaveLength(before);
  });

  it('an unknown chat request field is an InvalidArgumentError naming it', async () => {
    const { engine, handle } = await engineOn();
    const request = { messages: [{ role: 'user' as const, content: 'hi' }], max_token: 3 };
    await expect(engine.chatCompletion(handle, request as never)).rejects.toThrow(/^unknown chat request field "max_token"/);
  });

  it('an unknown load option is an InvalidArgumentError naming it, before anything loads', async () => {
    const backends = fakeBackends();
    const engine = new Engine(fakeLoader(backends));
    await expect(engine.load('stories260k', { dtyp: 'q4' } as never)).rejects.toThrow(/^unknown load option "dtyp"/);
    expect(backends.webgpuBackend.sessions).toHaveLength(0);
  });

  it('unknown options of other tasks are named too', async () => {
    const { engine, handle } = await engineOn();
    await expect(engine.extract(handle, 'Lily', { type: 'string' }, { stop: ['x'] } as never)).rejects.toThrow(/^unknown extraction option "stop"/);
    await expect(engine.embed(handle, ['x'], { batch: 2 } as never)).rejects.toThrow(/^unknown embedding option "batch"/);
    await expect(engine.trainClassifier(handle, [{ text: 'a', label: 'x' }], { epochs: 3 } as never)).rejects.toThrow(/^unknown training option "epochs"/);
  });
});
