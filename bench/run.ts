/**
 * npm run bench [-- --quick] [--runs N] [--only speed,llama.cpp,start-up,tasks,json,memory,cache]
 *
 * Measures our runtime side by side with transformers.js (same ONNX file, own worker), onnxruntime-node
 * (same ONNX file, same threads) and bare IndexedDB, interleaving the sides run by run so that both see
 * the same machine state, and writes bench/results/latest.json and latest.md. --quick (used by the test
 * suite) runs stories260K only, 2 runs, 16 tokens.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AutoTokenizer } from '@huggingface/transformers';
import type { Browser, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../models/sources.ts';
import { launchChromium, startHarnessServer, withoutCsp } from '../scripts/harness.ts';
import { llama2Tokenizer, MASK_SCHEMA, maskRun, xgrammarRun } from './json-mask.ts';
import { openNative } from './native.ts';
import type { BenchPage } from './page/bench.ts';
import type { Run } from './page/types.ts';
import { summarize, writeReport, type Ratio, type Report, type Row } from './report.ts';
import { storyThemes } from '../tests/support/sources.ts';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, runs: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' } },
});
const QUICK = args.quick;
const RUNS = Number(args.runs ?? (QUICK ? 2 : 5));
const NEW_TOKENS = QUICK ? 16 : 128;
const PREFILL_TOKENS = QUICK ? 64 : 200;
const MODELS = QUICK ? ['stories260k'] : ['stories260k', 'llama-15m'];
const MODELS_DIR = join(PROJECT_ROOT, 'public', 'models');
const OUT = args.out ?? join(PROJECT_ROOT, 'bench', 'results');
const DECODE_PROMPT = 'Once upon a time';
const ONLY = args.only ? new Set(args.only.split(',')) : null;
const wanted = (measure: string): boolean => !ONLY || ONLY.has(measure);
const GOALS: Record<string, { vsTransformers: number; vsNative: number }> = {
  stories260k: { vsTransformers: 2, vsNative: 0.35 },
  'llama-15m': { vsTransformers: 1.35, vsNative: 0.9 },
};

const rows: Row[] = [];
const ratios: Ratio[] = [];
const notes: string[] = [];
const log = (line: string): void => console.log(`bench: ${line}`);

function models(): void {
  const tsx = (...a: string[]): void => void execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'models/cli.ts'), '--if-stale', ...a], { stdio: 'inherit' });
  tsx();
  if (!QUICK) {
    tsx('--synthetic', 'llama-15m');
    if (wanted('memory')) tsx('--synthetic', 'llama-110m', '--dtype', 'q4', '--skip-gguf');
  }
}

/** A prompt of about `tokens` tokens for the model's tokenizer (story text, repeated as needed). */
async function prefillPrompt(model: string, tokens: number): Promise<{ text: string; ids: number[] }> {
  const tokenizer = await AutoTokenizer.from_pretrained(join(MODELS_DIR, model), { local_files_only: true });
  const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball under a tree and ran to get it. ';
  const words = story.repeat(20).split(' ');
  let text = '';
  for (const w of words) {
    const next = text ? `${text} ${w}` : w;
    if (tokenizer.encode(next).length > tokens) break;
    text = next;
  }
  return { text, ids: tokenizer.encode(text) };
}

function record(measure: string, model: string, dtype: string, backend: string, threads: number | string, side: string, metric: string, unit: string, values: number[], note?: string): number {
  const s = summarize(values);
  rows.push({ measure, model, dtype, backend, threads, side, metric, unit, ...s, ...(note && { note }) });
  return s.median;
}

async function call<K extends keyof BenchPage>(page: Page, name: K, ...params: Parameters<BenchPage[K]>): Promise<Awaited<ReturnType<BenchPage[K]>>> {
  return page.evaluate(({ name, params }) => (window as unknown as { bench: Record<string, (...a: unknown[]) => unknown> }).bench[name]!(...params), { name, params }) as never;
}

/** Decode (short prompt, NEW_TOKENS greedy) and prefill (PREFILL_TOKENS prompt) for each side, interleaved run by run. */
async function speed(page: Page, model: string, dtype: 'fp32', threads: number, withBaseline: boolean): Promise<void> {
  const prompt = await prefillPrompt(model, PREFILL_TOKENS);
  const decodeIds = (await AutoTokenizer.from_pretrained(join(MODELS_DIR, model), { local_files_only: true })).encode(DECODE_PROMPT);
  const native = await openNative(join(MODELS_DIR, model), 'onnx/model.onnx', threads);
  await call(page, 'oursOpen', model, dtype, threads);
  if (withBaseline) await call(page, 'baselineOpen', model, dtype, threads, false);
  type Side = 'ours' | 'transformers.js' | 'onnxruntime-node';
  const sides: Side[] = withBaseline ? ['ours', 'transformers.js', 'onnxruntime-node'] : ['ours', 'onnxruntime-node'];
  const results: Record<Side, { decode: number[]; prefill: number[] }> = {
    ours: { decode: [], prefill: [] },
    'transformers.js': { decode: [], prefill: [] },
    'onnxruntime-node': { decode: [], prefill: [] },
  };
  const runSide = async (side: Side, text: string, ids: number[], n: number): Promise<Run> =>
    side === 'ours' ? call(page, 'oursGenerate', text, n) : side === 'transformers.js' ? call(page, 'baselineGenerate', text, n) : native.generate(ids, n);
  // A full-length warm-up of each side (JIT, WASM heap growth as the KV cache grows), then RUNS rounds
  // with the order rotated every round.
  for (const side of sides) {
    await runSide(side, DECODE_PROMPT, decodeIds, NEW_TOKENS);
    await runSide(side, prompt.text, prompt.ids, 1);
  }
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < sides.length; j++) {
      const side = sides[(i + j) % sides.length]!;
      results[side].decode.push((await runSide(side, DECODE_PROMPT, decodeIds, NEW_TOKENS)).decodeTokensPerSecond);
      results[side].prefill.push((await runSide(side, prompt.text, prompt.ids, 1)).prefillTokensPerSecond);
    }
  }
  await call(page, 'oursClose');
  await call(page, 'baselineClose');
  const median: Record<string, { decode: number; prefill: number }> = {};
  for (const side of sides) {
    const backend = side === 'onnxruntime-node' ? 'cpu (native)' : 'wasm';
    median[side] = {
      decode: record('decode', model, dtype, backend, threads, side, `decode, ${NEW_TOKENS} new tokens`, 'tokens/s', results[side].decode),
      prefill: record('prefill', model, dtype, backend, threads, side, `prefill, ${prompt.ids.length}-token prompt`, 'tokens/s', results[side].prefill),
    };
  }
  const goal = GOALS[model]!;
  if (withBaseline) {
    const value = median.ours!.decode / median['transformers.js']!.decode;
    ratios.push({ name: `decode ours ÷ transformers.js (${threads} thread)`, model, value, goal: `≥ ${goal.vsTransformers}`, met: value >= goal.vsTransformers });
  }
  for (const kind of ['decode', 'prefill'] as const) {
    const value = median.ours![kind] / median['onnxruntime-node']![kind];
    ratios.push({ name: `${kind} browser ÷ onnxruntime-node (${threads} thread${threads > 1 ? 's' : ''})`, model, value, goal: `≥ ${goal.vsNative}`, met: threads === 1 ? value >= goal.vsNative : null });
  }
}

/**
 * Ours against llama.cpp in WASM (wllama) on the same weights at matching precision (fp32 ↔ F32,
 * q8 ↔ Q8_0): caller-side wall-clock for decode and prefill, and warm load time.
 */
async function llamaCpp(page: Page, model: string): Promise<void> {
  const prompt = await prefillPrompt(model, PREFILL_TOKENS);
  const pairs = [
    { dtype: 'fp32', gguf: 'gguf/model-f32.gguf', label: 'F32' },
    { dtype: 'q8', gguf: 'gguf/model-q8_0.gguf', label: 'Q8_0' },
  ] as const;
  for (const pair of pairs) {
    const r = { oursDecode: [] as number[], oursPrefill: [] as number[], oursLoad: [] as number[], cppDecode: [] as number[], cppPrefill: [] as number[], cppLoad: [] as number[] };
    for (let i = 0; i < RUNS + 1; i++) {
      // Load both (the first round fills the caches and is not counted), then measure interleaved.
      const oursLoad = await call(page, 'oursOpen', model, pair.dtype, 1);
      const cppLoad = await call(page, 'wllamaOpen', `/models/${model}/${pair.gguf}`, 1);
      if (i === 0) continue;
      r.oursLoad.push(oursLoad);
      r.cppLoad.push(cppLoad);
      const sides = i % 2 ? (['ours', 'cpp'] as const) : (['cpp', 'ours'] as const);
      for (const side of sides) {
        const gen = (text: string, n: number) => (side === 'ours' ? call(page, 'oursGenerateWall', text, n) : call(page, 'wllamaGenerate', text, n));
        const decode = await gen(DECODE_PROMPT, NEW_TOKENS);
        const prefill = await gen(prompt.text, 1);
        r[`${side}Decode`].push(decode.decodeTokensPerSecond);
        r[`${side}Prefill`].push(prefill.prefillTokensPerSecond);
      }
    }
    await call(page, 'oursClose');
    await call(page, 'wllamaClose');
    const row = (side: string, metric: string, unit: string, values: number[]): number => record('llama.cpp', model, side === 'ours' ? pair.dtype : pair.label, 'wasm', 1, side, metric, unit, values);
    const od = row('ours', `decode, ${NEW_TOKENS} new tokens, wall-clock`, 'tokens/s', r.oursDecode);
    const cd = row('wllama', `decode, ${NEW_TOKENS} new tokens, wall-clock`, 'tokens/s', r.cppDecode);
    const op = row('ours', `prefill, ${prompt.ids.length}-token prompt, wall-clock`, 'tokens/s', r.oursPrefill);
    const cp = row('wllama', `prefill, ${prompt.ids.length}-token prompt, wall-clock`, 'tokens/s', r.cppPrefill);
    const ol = row('ours', 'load (warm)', 'ms', r.oursLoad);
    const cl = row('wllama', 'load (warm)', 'ms', r.cppLoad);
    const pairName = `${pair.dtype} vs ${pair.label}`;
    ratios.push({ name: `decode ours ÷ wllama (${pairName})`, model, value: od / cd, goal: '≥ 1', met: od >= cd });
    ratios.push({ name: `prefill ours ÷ wllama (${pairName})`, model, value: op / cp, goal: '≥ 1', met: op >= cp });
    ratios.push({ name: `load time ours ÷ wllama (${pairName}, lower is better)`, model, value: ol / cl, goal: '≤ 1', met: ol <= cl });
  }
}

/** load() to first token: cold (empty caches, local server), warm from our IndexedDB, and transformers.js cold and warm from its Cache API. */
async function startup(page: Page, model: string): Promise<void> {
  const times = { oursCold: [] as number[], oursWarm: [] as number[], tjsCold: [] as number[], tjsWarm: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    await call(page, 'clearStorage');
    times.oursCold.push(await call(page, 'oursStartup', model, 'fp32'));
    times.tjsCold.push(await call(page, 'baselineStartup', model, 'fp32'));
    times.oursWarm.push(await call(page, 'oursStartup', model, 'fp32'));
    times.tjsWarm.push(await call(page, 'baselineStartup', model, 'fp32'));
  }
  const m = (label: string, side: string, values: number[]): number => record('start-up', model, 'fp32', 'wasm', 1, side, `load() to first token, ${label}`, 'ms', values);
  m('cold', 'ours', times.oursCold);
  const oursWarm = m('warm (our IndexedDB cache)', 'ours', times.oursWarm);
  m('cold', 'transformers.js', times.tjsCold);
  const tjsWarm = m('warm (its Cache API storage)', 'transformers.js', times.tjsWarm);
  ratios.push({ name: 'warm start-up ours ÷ transformers.js (time, lower is better)', model, value: oursWarm / tjsWarm, goal: '≤ 1', met: oursWarm <= tjsWarm });
}

/** Peak resident memory of the page's renderer (which hosts the worker) while loading, ÷ the weight file's bytes. */
async function memory(browser: Browser, url: string): Promise<void> {
  const model = 'llama-110m';
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, model, 'manifest.json'), 'utf8'));
  const weightBytes = manifest.files['onnx/model_q4.onnx'].bytes as number;
  const cdp = await browser.newBrowserCDPSession();
  const renderers = async (): Promise<number[]> =>
    ((await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: Array<{ type: string; id: number }> }).processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  const status = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const peaks: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const before = new Set(await renderers());
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(new URL('bench/page/index.html', url).href);
    await page.waitForSelector('body[data-ready="true"]');
    // The page's renderer is one of the processes that appeared; the one that grew is the one loading.
    const fresh = (await renderers()).filter((p) => !before.has(p));
    const baseline = new Map(fresh.map((p) => [p, status(p, 'VmRSS')]));
    await call(page, 'oursOpen', model, 'q4', 1);
    peaks.push(Math.max(...fresh.map((p) => status(p, 'VmHWM') - baseline.get(p)!)) / weightBytes);
    await context.close();
  }
  const value = record('memory', model, 'q4', 'wasm', 1, 'ours', 'peak renderer RSS growth while loading ÷ weight bytes', 'ratio', peaks, `weights ${weightBytes} bytes`);
  ratios.push({ name: 'peak memory while loading ÷ weight bytes', model, value, goal: '≤ 1.3', met: value <= 1.3 });
}

/** Domain tasks on stories260K: constrained ÷ unconstrained decode speed, and classifier training time. */
async function tasks(page: Page): Promise<void> {
  const examples = storyThemes();
  await call(page, 'oursOpen', 'stories260k', 'fp32', 1);
  await call(page, 'oursConstrained'); // warm-up (builds the token trie)
  const r = { constrained: [] as number[], unconstrained: [] as number[], train: [] as number[] };
  let tokens = 0;
  for (let i = 0; i < RUNS; i++) {
    const c = await call(page, 'oursConstrained');
    r.constrained.push(c.constrained);
    r.unconstrained.push(c.unconstrained);
    tokens = c.tokens;
    r.train.push(((await call(page, 'oursTrain', examples)) * 100) / examples.length);
  }
  await call(page, 'oursClose');
  const constrained = record('tasks', 'stories260k', 'fp32', 'wasm', 1, 'ours', `decode, JSON-constrained (${tokens} tokens)`, 'tokens/s', r.constrained);
  const unconstrained = record('tasks', 'stories260k', 'fp32', 'wasm', 1, 'ours', `decode, unconstrained (${tokens} tokens)`, 'tokens/s', r.unconstrained);
  record('tasks', 'stories260k', 'fp32', 'wasm', 1, 'ours', `train a classifier (features + head), per 100 examples (${examples.length} used)`, 'ms', r.train);
  ratios.push({ name: 'constrained ÷ unconstrained decode tokens/s', model: 'stories260k', value: constrained / unconstrained, goal: '≥ 0.9', met: constrained / unconstrained >= 0.9 });
}

/**
 * JSON-constrained decoding: the token mask on the 32k Llama-2 vocabulary in Node (the trie walk per
 * token as before, the state table on a schema's first document and on the next), and the extraction
 * fixture in the browser with and without drafts checked in one run.
 */
async function jsonDecoding(page: Page): Promise<void> {
  const tokenizer = await llama2Tokenizer();
  const vocab = 'Llama-2 vocabulary (32,000)';
  const mask = { walk: [] as number[], cold: [] as number[], warm: [] as number[] };
  // JIT warm-up of both paths (cpuUsage counts V8's compiler threads too).
  maskRun(tokenizer, 32000, 'walk');
  maskRun(tokenizer, 32000, 'table', { ...MASK_SCHEMA, description: 'warm-up' });
  for (let i = 0; i < RUNS; i++) {
    mask.walk.push(maskRun(tokenizer, 32000, 'walk').msPerToken);
    const fresh = { ...MASK_SCHEMA, description: `run ${i}` }; // a schema the table has not seen
    mask.cold.push(maskRun(tokenizer, 32000, 'table', fresh).msPerToken);
    mask.warm.push(maskRun(tokenizer, 32000, 'table', fresh).msPerToken);
  }
  const walk = record('json', vocab, '-', 'node', 1, 'before: trie walk every token', 'mask time per token', 'ms', mask.walk);
  const cold = record('json', vocab, '-', 'node', 1, 'ours: state table, first document', 'mask time per token', 'ms', mask.cold);
  const warm = record('json', vocab, '-', 'node', 1, 'ours: state table, same schema again', 'mask time per token', 'ms', mask.warm);
  ratios.push({ name: 'mask time per token, state table ÷ trie walk (first document)', model: vocab, value: cold / walk, goal: 'report', met: null });
  ratios.push({ name: 'mask time per token, state table ÷ trie walk (schema seen before)', model: vocab, value: warm / walk, goal: 'report', met: null });
  const xg = await xgrammarRun(tokenizer, 32000, maskRun(tokenizer, 32000, 'table').tokens, RUNS);
  const xgrammar = record('json', vocab, '-', 'node', 1, '@mlc-ai/web-xgrammar', 'mask time per token (getNextTokenBitmask)', 'ms', xg.msPerToken, `set-up (tokenizer info, schema compilation) ${Math.round(xg.setupMs)} ms`);
  ratios.push({ name: 'mask time per token, ours ÷ xgrammar (first document)', model: vocab, value: cold / xgrammar, goal: '≤ 1', met: cold <= xgrammar });
  ratios.push({ name: 'mask time per token, ours ÷ xgrammar (schema seen before)', model: vocab, value: warm / xgrammar, goal: '≤ 1', met: warm <= xgrammar });

  const fixture = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/extraction.json'), 'utf8')) as { schema: object; documents: string[] };
  if (QUICK) fixture.documents = fixture.documents.slice(0, 2);
  for (const model of MODELS) {
    await call(page, 'oursOpen', model, 'fp32', 1);
    await call(page, 'oursExtractFixture', fixture.documents, fixture.schema, true); // warm-up
    const r = { drafted: [] as number[], plain: [] as number[], constrained: [] as number[], unconstrained: [] as number[] };
    let accepted = '';
    for (let i = 0; i < RUNS; i++) {
      const plain = await call(page, 'oursExtractFixture', fixture.documents, fixture.schema, false);
      const drafted = await call(page, 'oursExtractFixture', fixture.documents, fixture.schema, true);
      r.plain.push(plain.msPerDocument / 1000);
      r.drafted.push(drafted.msPerDocument / 1000);
      r.constrained.push(drafted.constrained);
      r.unconstrained.push(drafted.unconstrained);
      accepted = `${drafted.accepted} of ${drafted.tokens} tokens from drafts`;
    }
    await call(page, 'oursClose');
    const n = fixture.documents.length;
    const drafted = record('json', model, 'fp32', 'wasm', 1, 'ours: drafts checked in one run', `extraction fixture (${n} documents), per document`, 's', r.drafted, accepted);
    const plain = record('json', model, 'fp32', 'wasm', 1, 'plain greedy constrained', `extraction fixture (${n} documents), per document`, 's', r.plain);
    const constrained = record('json', model, 'fp32', 'wasm', 1, 'ours: drafts checked in one run', 'decode, JSON-constrained', 'tokens/s', r.constrained);
    const unconstrained = record('json', model, 'fp32', 'wasm', 1, 'ours', 'decode, unconstrained (as many tokens)', 'tokens/s', r.unconstrained);
    ratios.push({ name: 'extraction fixture, seconds per document, drafts ÷ plain greedy', model, value: drafted / plain, goal: '≤ 0.6', met: drafted / plain <= 0.6 });
    ratios.push({ name: 'extraction fixture, constrained ÷ unconstrained decode tokens/s', model, value: constrained / unconstrained, goal: '≥ 1.0', met: constrained / unconstrained >= 1 });
  }
}

async function cacheThroughput(page: Page): Promise<void> {
  const mb = QUICK ? 16 : 64;
  const r = { oursWrite: [] as number[], oursRead: [] as number[], bareWrite: [] as number[], bareRead: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    const t = await call(page, 'cacheThroughput', mb);
    for (const k of Object.keys(r) as Array<keyof typeof r>) r[k].push(t[k]);
  }
  const write = record('cache', `${mb} MB random`, '-', 'IndexedDB', '-', 'ours', 'write (chunked, hashed)', 'MB/s', r.oursWrite);
  const read = record('cache', `${mb} MB random`, '-', 'IndexedDB', '-', 'ours', 'read (chunks joined)', 'MB/s', r.oursRead);
  const bareWrite = record('cache', `${mb} MB random`, '-', 'IndexedDB', '-', 'bare IndexedDB', 'write (same 4 MiB puts)', 'MB/s', r.bareWrite);
  const bareRead = record('cache', `${mb} MB random`, '-', 'IndexedDB', '-', 'bare IndexedDB', 'read (getAll, joined)', 'MB/s', r.bareRead);
  ratios.push({ name: 'cache write ÷ bare IndexedDB write', model: '-', value: write / bareWrite, goal: 'report', met: null });
  ratios.push({ name: 'cache read ÷ bare IndexedDB read', model: '-', value: read / bareRead, goal: 'report', met: null });
}

async function main(): Promise<void> {
  const started = performance.now();
  models();
  const server = await startHarnessServer();
  const browser = await launchChromium({ webgpu: false });
  try {
    const context = await browser.newContext();
    await withoutCsp(context, '**/bench/page/index.html'); // for wllama's blob: workers
    const page = await context.newPage();
    await page.goto(new URL('bench/page/index.html', server.url).href);
    await page.waitForSelector('body[data-ready="true"]');
    const isolated = await call(page, 'crossOriginIsolated');
    for (const model of MODELS) {
      if (wanted('speed')) {
        log(`${model}: decode and prefill, 1 thread, ours / transformers.js / onnxruntime-node`);
        await speed(page, model, 'fp32', 1, true);
        if (!QUICK && isolated) {
          log(`${model}: 2 threads, ours / onnxruntime-node`);
          await speed(page, model, 'fp32', 2, false);
        }
      }
      if (wanted('llama.cpp')) {
        log(`${model}: ours / llama.cpp (wllama)`);
        await llamaCpp(page, model);
      }
      if (wanted('start-up')) {
        log(`${model}: start-up`);
        await startup(page, model);
      }
    }
    if (wanted('tasks')) {
      log('stories260k: constrained decoding and classifier training');
      await tasks(page);
    }
    if (wanted('json')) {
      log('JSON-constrained decoding: mask cost on the Llama-2 vocabulary, extraction fixture');
      await jsonDecoding(page);
    }
    if (!QUICK && wanted('memory')) {
      log('llama-110m q4: memory while loading');
      await memory(browser, server.url);
    }
    if (wanted('cache')) {
      log('cache throughput');
      await cacheThroughput(page);
    }
    notes.push(
      'Each side runs the same ONNX file. Ours: the public worker API (SlmClient.inWorker, load, generate). transformers.js: AutoTokenizer + AutoModelForCausalLM.generate in its own worker, device "wasm", greedy with min_new_tokens = max_new_tokens, as its documentation shows; it loads onnxruntime-web through its WebGPU build (asyncify WASM), its own choice. onnxruntime-node: InferenceSession with intraOpNumThreads = threads, graph optimisation "all", the same feed loop (KV cache fed back, argmax).',
      'Decode tokens/s counts the tokens after the first over the time from the first token to the last; prefill tokens/s is prompt tokens over the time to the first token. Sides are interleaved run by run (order rotated), after one full-length warm-up each.',
      'Start-up: a new worker each time; cold = our IndexedDB cache and CacheStorage cleared, files from the local preview server; warm = second load with caches filled.',
      'Memory: VmHWM − VmRSS-before of the renderer process that hosts the page and its worker (/proc), for llama-110m q4, ÷ the model file size.',
      'llama.cpp in WASM: @wllama/wllama with its wasm served by this app, loading the GGUF files the model pipeline exports from the same weights (F32; Q8_0 where rows are a multiple of 32, F32 otherwise), n_threads = 1, temperature 0, ignore_eos; caller-side wall-clock (first streamed chunk, end) for both sides; warm load = second and later loads from each runtime\'s own cache. wllama starts workers from blob: URLs, so its page runs without the strict CSP.',
    );
    const versions = (name: string): string => JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    const report: Report = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), chromium: browser.version(), node: process.version, crossOriginIsolated: String(isolated) },
      versions: { 'onnxruntime-web': versions('onnxruntime-web'), 'onnxruntime-node': versions('onnxruntime-node'), '@huggingface/transformers': versions('@huggingface/transformers') },
      settings: { runs: RUNS, newTokens: NEW_TOKENS, prefillTokens: PREFILL_TOKENS, quick: QUICK, seconds: Math.round((performance.now() - started) / 1000) },
      rows,
      ratios,
      notes,
    };
    const files = writeReport(OUT, report);
    log(`wrote ${files.json} and ${files.md} in ${report.settings.seconds} s`);
    for (const r of ratios) log(`${r.name} [${r.model}]: ${r.value.toFixed(2)} (goal ${r.goal})`);
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
