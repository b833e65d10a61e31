/**
 * Bench groups that put one model file side by side in three runtimes: ours (the public worker API),
 * transformers.js (same ONNX file, its own worker) and llama.cpp in WASM (wllama, on a GGUF of the same
 * weights: the original file for converted models). Used for the real models (SmolLM2-135M-Instruct
 * q4, Gemma 3 270M q4) and, for start-up and memory, for the small ones too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { withoutCsp } from '../scripts/harness.ts';
import type { Dtype } from '../src/model-format.ts';
import type { Run } from './page/types.ts';
import { call, interleavedRounds, MODELS_DIR, modelTokenizer, ratio, record, type Prompt } from './session.ts';

/** A model file of one dtype, and the GGUF wllama runs for it (absent: wllama is left out). */
export interface Subject {
  model: string;
  dtype: Dtype;
  /** Bytes of the ONNX file of `dtype`. */
  bytes: number;
  gguf?: { url: string; label: string; bytes: number };
}

export function subject(model: string, dtype: Dtype, gguf?: Subject['gguf']): Subject {
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, model, 'manifest.json'), 'utf8'));
  const file = manifest.dtypes[dtype].file as string;
  return { model, dtype, bytes: manifest.files[file].bytes as number, ...(gguf && { gguf }) };
}

type Side = 'ours' | 'transformers.js' | 'wllama';

/**
 * The bench page in a new browser context (its own renderer process, empty storage). wllama starts
 * workers from blob: URLs and ORT imports its WASM build's glue from one in the transformers.js
 * worker, which the app's strict CSP forbids: those two are served without it.
 */
export async function benchPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext();
  await withoutCsp(context, '**/bench/page/index.html');
  await withoutCsp(context, '**/assets/tjs.worker-*.js');
  const page = await context.newPage();
  await page.goto(new URL('bench/page/index.html', url).href);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Opens every side (one thread each), each on a page of its own: three runtimes holding Gemma 3 crash one renderer. */
async function openSides(browser: Browser, url: string, s: Subject): Promise<Map<Side, Page>> {
  const pages = new Map<Side, Page>();
  for (const side of ['ours', 'transformers.js', 'wllama'] as const) {
    if (side === 'wllama' && !s.gguf) continue;
    const page = await benchPage(browser, url);
    await (side === 'ours' ? call(page, 'oursOpen', s.model, s.dtype, 1) : side === 'wllama' ? call(page, 'wllamaOpen', s.gguf!.url, 1) : call(page, 'baselineOpen', s.model, s.dtype, 1, false));
    pages.set(side, page);
  }
  return pages;
}

const dtypeOf = (s: Subject, side: Side): string => (side === 'wllama' ? s.gguf!.label : s.dtype);

/**
 * Decode (short prompt, `newTokens` greedy), prefill of a `prefillTokens` prompt and the time to the
 * first token of each, one thread, every side interleaved run by run (order rotated). Each prefill
 * prompt starts differently, so that no side's prompt cache (ours, llama.cpp's) serves it from an
 * earlier run.
 */
export async function sideBySide(browser: Browser, url: string, s: Subject, runs: number, newTokens: number, prefillTokens: number, goals: { decodeVsWllama: number; decodeVsTransformers: number }): Promise<void> {
  const decodePrompt = 'Once upon a time';
  const pages = await openSides(browser, url, s);
  const sides = [...pages.keys()];
  const generate = (side: Side, { text }: Prompt, n: number): Promise<Run> => {
    const page = pages.get(side)!;
    return side === 'ours' ? call(page, 'oursGenerateWall', text, n) : side === 'wllama' ? call(page, 'wllamaGenerate', text, n) : call(page, 'baselineGenerate', text, n);
  };
  const decode = { text: decodePrompt, ids: (await modelTokenizer(s.model)).encode(decodePrompt) };
  const { results, promptTokens } = await interleavedRounds(s.model, sides, runs, decode, newTokens, prefillTokens, generate);
  const r = Object.fromEntries(sides.map((side) => {
    const { decode: d, prefill: p } = results[side];
    return [side, { decode: d.map((x) => x.decodeTokensPerSecond), ttft: d.map((x) => x.ttftMs), prefill: p.map((x) => x.prefillTokensPerSecond), prefillTtft: p.map((x) => x.ttftMs) }];
  }));
  for (const page of pages.values()) await page.context().close();
  const m: Record<string, { decode: number; prefill: number; ttft: number }> = {};
  for (const side of sides) {
    const row = (metric: string, unit: string, values: number[]): number => record('real', s.model, dtypeOf(s, side), 'wasm', 1, side, metric, unit, values);
    m[side] = {
      decode: row(`decode, ${newTokens} new tokens`, 'tokens/s', r[side]!.decode),
      prefill: row(`prefill, ${promptTokens}-token prompt`, 'tokens/s', r[side]!.prefill),
      ttft: row(`time to first token, ${promptTokens}-token prompt`, 'ms', r[side]!.prefillTtft),
    };
    row(`time to first token, "${decodePrompt}"`, 'ms', r[side]!.ttft);
  }
  const tjs = m['transformers.js']!;
  ratio('decode ours ÷ transformers.js (1 thread)', s.model, m.ours!.decode / tjs.decode, `≥ ${goals.decodeVsTransformers}`);
  ratio('prefill ours ÷ transformers.js (1 thread)', s.model, m.ours!.prefill / tjs.prefill, 'report');
  ratio(`time to first token ours ÷ transformers.js (${promptTokens}-token prompt, lower is better)`, s.model, m.ours!.ttft / tjs.ttft, '≤ 1');
  const cpp = m.wllama;
  if (cpp) {
    const pair = `${s.dtype} vs ${s.gguf!.label}`;
    ratio(`decode ours ÷ wllama (${pair})`, s.model, m.ours!.decode / cpp.decode, `≥ ${goals.decodeVsWllama}`);
    ratio(`prefill ours ÷ wllama (${pair})`, s.model, m.ours!.prefill / cpp.prefill, 'report');
    ratio(`time to first token ours ÷ wllama (${pair}, ${promptTokens}-token prompt, lower is better)`, s.model, m.ours!.ttft / cpp.ttft, '≤ 1');
  }
}

/**
 * load() to first token: cold (our IndexedDB cache, CacheStorage and wllama's OPFS cleared; files
 * from the local servers) and warm (caches filled), a new worker each time.
 */
export async function startup(page: Page, s: Subject, runs: number): Promise<void> {
  const times = { oursCold: [] as number[], oursWarm: [] as number[], tjsCold: [] as number[], tjsWarm: [] as number[], cppCold: [] as number[], cppWarm: [] as number[] };
  for (let i = 0; i < runs; i++) {
    await call(page, 'clearStorage');
    times.oursCold.push(await call(page, 'oursStartup', s.model, s.dtype));
    times.tjsCold.push(await call(page, 'baselineStartup', s.model, s.dtype));
    if (s.gguf) times.cppCold.push(await call(page, 'wllamaStartup', s.gguf.url));
    times.oursWarm.push(await call(page, 'oursStartup', s.model, s.dtype));
    times.tjsWarm.push(await call(page, 'baselineStartup', s.model, s.dtype));
    if (s.gguf) times.cppWarm.push(await call(page, 'wllamaStartup', s.gguf.url));
  }
  const row = (side: Side, label: string, values: number[]): number => record('start-up', s.model, dtypeOf(s, side), 'wasm', 1, side, `load() to first token, ${label}`, 'ms', values);
  const oursCold = row('ours', 'cold', times.oursCold);
  const oursWarm = row('ours', 'warm (our IndexedDB cache)', times.oursWarm);
  const tjsCold = row('transformers.js', 'cold', times.tjsCold);
  const tjsWarm = row('transformers.js', 'warm (its Cache API storage)', times.tjsWarm);
  ratio('cold start-up ours ÷ transformers.js (time, lower is better)', s.model, oursCold / tjsCold, '≤ 1');
  ratio('warm start-up ours ÷ transformers.js (time, lower is better)', s.model, oursWarm / tjsWarm, '≤ 1');
  if (!s.gguf) return;
  const cppCold = row('wllama', 'cold', times.cppCold);
  const cppWarm = row('wllama', 'warm (its OPFS cache)', times.cppWarm);
  ratio(`cold start-up ours ÷ wllama (${s.dtype} vs ${s.gguf.label}, time, lower is better)`, s.model, oursCold / cppCold, '≤ 1');
  ratio(`warm start-up ours ÷ wllama (${s.dtype} vs ${s.gguf.label}, time, lower is better)`, s.model, oursWarm / cppWarm, '≤ 1');
}

/**
 * Renderer memory from /proc: a new bench page (a new browser context: its own renderer process, empty
 * storage) and the resident memory its renderers grew by since it opened. The page's workers run in its
 * renderer; of the processes that appeared, the one that grew most is the one working.
 */
export async function measuredPage(browser: Browser, url: string): Promise<{ page: Page; resetPeak(): void; peakGrowth(): number; close(): Promise<void> }> {
  const cdp = await browser.newBrowserCDPSession();
  const renderers = async (): Promise<number[]> =>
    ((await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: Array<{ type: string; id: number }> }).processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  const status = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const before = new Set(await renderers());
  const page = await benchPage(browser, url);
  const fresh = (await renderers()).filter((p) => !before.has(p));
  const baseline = new Map(fresh.map((p) => [p, status(p, 'VmRSS')]));
  await cdp.detach();
  return {
    page,
    // VmHWM down to the current RSS, so that the next peak is that of what runs after (Linux clear_refs).
    resetPeak: () => fresh.forEach((p) => writeFileSync(`/proc/${p}/clear_refs`, '5')),
    peakGrowth: () => Math.max(...fresh.map((p) => status(p, 'VmHWM') - baseline.get(p)!)),
    close: () => page.context().close(),
  };
}

/**
 * Peak resident memory of the page's renderer (which hosts the page's workers) while loading, ÷ the
 * bytes of the file loaded: each run a new browser context (a new renderer, empty storage, so a cold
 * load), VmHWM − VmRSS-before from /proc. `sides` picks which runtimes load it.
 */
export async function loadMemory(browser: Browser, url: string, s: Subject, runs: number, sides: Side[], goal: number): Promise<void> {
  const open = (page: Page, side: Side): Promise<unknown> =>
    side === 'ours' ? call(page, 'oursOpen', s.model, s.dtype, 1) : side === 'wllama' ? call(page, 'wllamaOpen', s.gguf!.url, 1) : call(page, 'baselineOpen', s.model, s.dtype, 1, false);
  const peaks = Object.fromEntries(sides.map((side) => [side, [] as number[]]));
  for (let i = 0; i < runs; i++) {
    for (const side of sides) {
      const m = await measuredPage(browser, url);
      await open(m.page, side);
      const bytes = side === 'wllama' ? s.gguf!.bytes : s.bytes;
      peaks[side]!.push(m.peakGrowth() / bytes);
      await m.close();
    }
  }
  for (const side of sides) {
    const bytes = side === 'wllama' ? s.gguf!.bytes : s.bytes;
    const value = record('memory', s.model, dtypeOf(s, side), 'wasm', 1, side, 'peak renderer RSS growth while loading ÷ file bytes', 'ratio', peaks[side]!, `file ${bytes} bytes`);
    ratio(`peak memory while loading ÷ file bytes (${side}${side === 'wllama' ? `, ${s.gguf!.label}` : ''})`, s.model, value, side === 'ours' ? `≤ ${goal}` : 'report');
  }
}

/**
 * A chat of five turns (replies of at most `maxTokens`, greedy, each fed back), ours through the chat
 * API with its KV cache kept between turns, transformers.js prompting each turn from scratch. A new
 * worker each run for ours, so that every run starts from an empty cache.
 */
export async function chat(page: Page, s: Subject, runs: number, maxTokens: number, turns: string[]): Promise<void> {
  const system = 'You are a helpful support assistant for an online shop. Answer briefly.';
  const r = { ours: [] as number[][], tjs: [] as number[][] };
  let same = true;
  for (let i = 0; i <= runs; i++) {
    await call(page, 'oursOpen', s.model, s.dtype, 1);
    const ours = await call(page, 'oursChat', system, turns, maxTokens);
    await call(page, 'oursClose'); // one runtime at a time holds the model
    await call(page, 'baselineOpen', s.model, s.dtype, 1, false);
    const tjs = await call(page, 'baselineChat', system, turns, maxTokens);
    await call(page, 'baselineClose');
    same &&= ours.replies.every((reply, t) => reply.trim() === tjs.replies[t]);
    if (i === 0) continue; // the first conversation warms both up
    r.ours.push(ours.ttftMs);
    r.tjs.push(tjs.ttftMs);
  }
  const last = turns.length - 1;
  const row = (side: Side, turn: number, values: number[][]): number =>
    record('chat', s.model, s.dtype, 'wasm', 1, side, `time to first token, turn ${turn + 1} of ${turns.length} (replies ≤ ${maxTokens} tokens)`, 'ms', values.map((v) => v[turn]!));
  const oursFirst = row('ours', 0, r.ours);
  const oursLast = row('ours', last, r.ours);
  const tjsFirst = row('transformers.js', 0, r.tjs);
  const tjsLast = row('transformers.js', last, r.tjs);
  const note = same ? 'both sides wrote the same replies' : 'the sides wrote different replies, so the later prompts differ';
  ratio(`chat: time to first token, turn ${turns.length} ÷ turn 1 (ours)`, s.model, oursLast / oursFirst, '≤ 1.3');
  ratio(`chat: time to first token, turn ${turns.length} ÷ turn 1 (transformers.js)`, s.model, tjsLast / tjsFirst, 'report');
  ratio(`chat: time to first token of turn ${turns.length}, ours ÷ transformers.js`, s.model, oursLast / tjsLast, '≤ 0.3', note);
}

/**
 * Extraction cases, greedy: seconds per document with drafts checked in one run (jump-forward, prompt
 * lookup) and without, and constrained ÷ unconstrained decode tokens/s. Each pass goes through every
 * case before the next pass, so a case's prompt is not served from the KV cache its previous pass left
 * (the cache keeps 4 sequences) unless there are fewer than 3 cases.
 */
export async function extraction(page: Page, s: Subject, runs: number, cases: Array<{ text: string; schema: object }>, label: string): Promise<void> {
  await call(page, 'oursOpen', s.model, s.dtype, 1);
  await call(page, 'oursExtractCases', cases, true, false); // warm-up
  const r = { drafted: [] as number[], plain: [] as number[], constrained: [] as number[], unconstrained: [] as number[] };
  let accepted = '';
  for (let i = 0; i < runs; i++) {
    const plain = await call(page, 'oursExtractCases', cases, false, false);
    const drafted = await call(page, 'oursExtractCases', cases, true, true);
    r.plain.push(plain.msPerDocument / 1000);
    r.drafted.push(drafted.msPerDocument / 1000);
    r.constrained.push(drafted.constrained);
    r.unconstrained.push(drafted.unconstrained);
    accepted = `${drafted.accepted} of ${drafted.tokens} tokens from drafts`;
  }
  await call(page, 'oursClose');
  const metric = `${label} (${cases.length} documents), per document`;
  const drafted = record('json', s.model, s.dtype, 'wasm', 1, 'ours: drafts checked in one run', metric, 's', r.drafted, accepted);
  const plain = record('json', s.model, s.dtype, 'wasm', 1, 'plain greedy constrained', metric, 's', r.plain);
  const constrained = record('json', s.model, s.dtype, 'wasm', 1, 'ours: drafts checked in one run', 'decode, JSON-constrained', 'tokens/s', r.constrained);
  const unconstrained = record('json', s.model, s.dtype, 'wasm', 1, 'ours', 'decode, unconstrained (as many tokens)', 'tokens/s', r.unconstrained);
  ratio(`${label}, seconds per document, drafts ÷ plain greedy`, s.model, drafted / plain, '≤ 0.6', accepted);
  ratio(`${label}, constrained ÷ unconstrained decode tokens/s`, s.model, constrained / unconstrained, '≥ 1');
}
