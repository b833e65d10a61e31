/**
 * npm run bench [-- --quick] [--runs N] [--only GROUP,…] [--models smollm2-135m-instruct,gemma3-270m] [--real-runs N] [--new-tokens N]
 *
 * Groups on the small models (stories260K, synthetic llama-15m / llama-110m): speed, llama.cpp,
 * start-up, tasks, json, memory, cache. On the real models of --models: real (decode, prefill, time to
 * first token), real-start-up, real-memory, chat, real-json, threads, fine-tune (LoRA training on WASM,
 * and on WebGPU with stories260K).
 *
 * Measures our runtime side by side with transformers.js (same ONNX file, own worker), onnxruntime-node
 * (same ONNX file, same threads), llama.cpp in WASM (wllama) and bare IndexedDB, interleaving the sides
 * run by run so that both see the same machine state, and writes bench/results/latest.json and
 * latest.md. The real models (SmolLM2-135M-Instruct q4; Gemma 3 270M q4 when `npm run models --
 * gemma3-270m` has built it) get --real-runs runs (default 3) in every group that --only leaves. --quick
 * (used by the test suite) runs stories260K only, 2 runs, 16 tokens, and its real-model groups on
 * stories260K too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { GEMMA3_270M, PROJECT_ROOT, resolveSource, SMOLLM2_135M_INSTRUCT, type GgufSource } from '../models/sources.ts';
import { launchChromium, startHarnessServer } from '../scripts/harness.ts';
import { llama2Tokenizer, maskRows } from './json-mask.ts';
import { openNative } from './native.ts';
import type { Run } from './page/types.ts';
import { writeReport, type Report } from './report.ts';
import { call, interleavedRounds, log, MODELS_DIR, modelTokenizer, notes, prefillPrompt, ratio, ratios, record, rows, type Prompt } from './session.ts';
import { benchPage, chat, extraction, loadMemory, sideBySide, startup, subject, type Subject } from './sides.ts';
import { fineTuneRows, webgpuFineTuneRows } from './fine-tune.ts';
import { storyThemes } from '../tests/support/sources.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
    models: { type: 'string', default: 'smollm2-135m-instruct,gemma3-270m' },
    'real-runs': { type: 'string' },
    'new-tokens': { type: 'string' },
  },
});
const QUICK = args.quick;
const RUNS = Number(args.runs ?? (QUICK ? 2 : 5));
const REAL_RUNS = Number(args['real-runs'] ?? Math.min(RUNS, 3));
const NEW_TOKENS = Number(args['new-tokens'] ?? (QUICK ? 16 : 128));
const PREFILL_TOKENS = QUICK ? 64 : 200;
const MODELS = QUICK ? ['stories260k'] : ['stories260k', 'llama-15m'];
const OUT = args.out ?? join(PROJECT_ROOT, 'bench', 'results');
const DECODE_PROMPT = 'Once upon a time';
const ONLY = args.only ? new Set(args.only.split(',')) : null;
const wanted = (measure: string): boolean => !ONLY || ONLY.has(measure);
/** Goals per model: decode ours ÷ transformers.js, and browser ÷ onnxruntime-node at 1 thread (null: reported only). */
const GOALS: Record<string, { vsTransformers: number; decodeVsNative: number | null; prefillVsNative: number }> = {
  stories260k: { vsTransformers: 2, decodeVsNative: 0.35, prefillVsNative: 0.35 },
  'llama-15m': { vsTransformers: 1.35, decodeVsNative: 0.9, prefillVsNative: 0.9 },
  'smollm2-135m-instruct': { vsTransformers: 1.2, decodeVsNative: null, prefillVsNative: 0.4 },
  'gemma3-270m': { vsTransformers: 1.2, decodeVsNative: null, prefillVsNative: 0.4 },
};
/** Each real model's original GGUF (what wllama runs) and its quantization, as llama.cpp names it. */
const REAL_SOURCES: Record<string, { source: GgufSource; label: string }> = {
  'smollm2-135m-instruct': { source: SMOLLM2_135M_INSTRUCT, label: 'Q4_1' },
  'gemma3-270m': { source: GEMMA3_270M, label: 'Q4_K_M' },
};
/** The user turns of the chat rows. */
const CHAT_TURNS = [
  'Hi! I ordered a blue backpack last week. Order number 58213.',
  'It has not arrived yet. Can you tell me where it is?',
  'The tracking page says it is in Leeds. How long will it take from there?',
  'Can I change the delivery address to my office instead?',
  'Thanks. Please also send me the invoice by email.',
];

function models(): void {
  const tsx = (...a: string[]): void => void execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'models/cli.ts'), '--if-stale', ...a], { stdio: 'inherit' });
  tsx();
  if (!QUICK) {
    if (['speed', 'llama.cpp', 'start-up', 'json'].some(wanted)) tsx('--synthetic', 'llama-15m');
    if (wanted('memory')) tsx('--synthetic', 'llama-110m', '--dtype', 'q4', '--skip-gguf');
  }
}

/**
 * Decode (short prompt, NEW_TOKENS greedy) and prefill (PREFILL_TOKENS prompt, a new one each run) for
 * each side, interleaved run by run. `threads` 'default' leaves ours to choose (onnxruntime-node then
 * gets the count it chose). Returns our medians and the threads used.
 */
async function speed(page: Page, s: Subject, threads: number | 'default', withBaseline: boolean): Promise<{ decode: number; prefill: number; threads: number }> {
  const decodeIds = (await modelTokenizer(s.model)).encode(DECODE_PROMPT);
  await call(page, 'oursOpen', s.model, s.dtype, threads === 'default' ? undefined : threads);
  const n = await call(page, 'oursThreads');
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, s.model, 'manifest.json'), 'utf8'));
  const native = await openNative(join(MODELS_DIR, s.model), manifest.dtypes[s.dtype].file, n);
  if (withBaseline) await call(page, 'baselineOpen', s.model, s.dtype, n, false);
  type Side = 'ours' | 'transformers.js' | 'onnxruntime-node';
  const sides: Side[] = withBaseline ? ['ours', 'transformers.js', 'onnxruntime-node'] : ['ours', 'onnxruntime-node'];
  const runSide = async (side: Side, { text, ids }: Prompt, count: number): Promise<Run> =>
    side === 'ours' ? call(page, 'oursGenerate', text, count) : side === 'transformers.js' ? call(page, 'baselineGenerate', text, count) : native.generate(ids, count);
  const { results, promptTokens } = await interleavedRounds(s.model, sides, RUNS, { text: DECODE_PROMPT, ids: decodeIds }, NEW_TOKENS, PREFILL_TOKENS, runSide);
  await call(page, 'oursClose');
  await call(page, 'baselineClose');
  const label = threads === 'default' ? `${n} (default)` : n;
  const median: Record<string, { decode: number; prefill: number }> = {};
  for (const side of sides) {
    const backend = side === 'onnxruntime-node' ? 'cpu (native)' : 'wasm';
    median[side] = {
      decode: record('decode', s.model, s.dtype, backend, label, side, `decode, ${NEW_TOKENS} new tokens`, 'tokens/s', results[side].decode.map((r) => r.decodeTokensPerSecond)),
      prefill: record('prefill', s.model, s.dtype, backend, label, side, `prefill, ${promptTokens}-token prompt`, 'tokens/s', results[side].prefill.map((r) => r.prefillTokensPerSecond)),
    };
  }
  const goal = GOALS[s.model]!;
  const plural = `${label} thread${n > 1 ? 's' : ''}`;
  if (withBaseline) ratio(`decode ours ÷ transformers.js (${plural})`, s.model, median.ours!.decode / median['transformers.js']!.decode, `≥ ${goal.vsTransformers}`);
  // The goals are for one thread, and for the thread count the runtime chooses.
  const bound = (g: number | null): string => (g !== null && (n === 1 || threads === 'default') ? `≥ ${g}` : 'report');
  ratio(`decode browser ÷ onnxruntime-node (${plural})`, s.model, median.ours!.decode / median['onnxruntime-node']!.decode, bound(goal.decodeVsNative));
  ratio(`prefill browser ÷ onnxruntime-node (${plural})`, s.model, median.ours!.prefill / median['onnxruntime-node']!.prefill, bound(goal.prefillVsNative));
  return { ...median.ours!, threads: n };
}

/** The thread count the runtime chooses against 1 thread, each beside onnxruntime-node with the same threads. */
async function threadRows(page: Page, s: Subject): Promise<void> {
  const one = await speed(page, s, 1, false);
  const chosen = await speed(page, s, 'default', false);
  const note = chosen.threads === 1 ? 'the runtime chose 1 thread: the same setting measured twice' : undefined;
  ratio(`decode with the default threads (${chosen.threads}) ÷ 1 thread`, s.model, chosen.decode / one.decode, '≥ 1', note);
  ratio(`prefill with the default threads (${chosen.threads}) ÷ 1 thread`, s.model, chosen.prefill / one.prefill, 'report', note);
}

/**
 * Ours against llama.cpp in WASM (wllama) on the same weights at matching precision (fp32 ↔ F32,
 * q8 ↔ Q8_0): caller-side wall-clock for decode and prefill, and warm load time.
 */
async function llamaCpp(page: Page, model: string): Promise<void> {
  let promptTokens = 0;
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
      const prompt = await prefillPrompt(model, PREFILL_TOKENS, `run ${i}`); // new each run: both sides cache prompts
      promptTokens = prompt.ids.length;
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
    const op = row('ours', `prefill, ${promptTokens}-token prompt, wall-clock`, 'tokens/s', r.oursPrefill);
    const cp = row('wllama', `prefill, ${promptTokens}-token prompt, wall-clock`, 'tokens/s', r.cppPrefill);
    const ol = row('ours', 'load (warm)', 'ms', r.oursLoad);
    const cl = row('wllama', 'load (warm)', 'ms', r.cppLoad);
    const pairName = `${pair.dtype} vs ${pair.label}`;
    ratio(`decode ours ÷ wllama (${pairName})`, model, od / cd, '≥ 1');
    ratio(`prefill ours ÷ wllama (${pairName})`, model, op / cp, '≥ 1');
    ratio(`load time ours ÷ wllama (${pairName}, lower is better)`, model, ol / cl, '≤ 1');
  }
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
  ratio('constrained ÷ unconstrained decode tokens/s', 'stories260k', constrained / unconstrained, '≥ 0.9');
}

/**
 * JSON-constrained decoding: the token mask on the 32k Llama-2 vocabulary in Node, and the extraction
 * fixture in the browser with and without drafts checked in one run.
 */
async function jsonDecoding(page: Page): Promise<void> {
  await maskRows(await llama2Tokenizer(), 32000, 'Llama-2 vocabulary (32,000)', { type: 'byte_fallback', prependSpace: true }, RUNS);
  const fixture = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/extraction.json'), 'utf8')) as { schema: object; documents: string[] };
  const cases = fixture.documents.slice(0, QUICK ? 2 : undefined).map((text) => ({ text, schema: fixture.schema }));
  for (const model of MODELS) await extraction(page, subject(model, 'fp32'), RUNS, cases, 'extraction fixture');
}

/** The mask on a real model's own vocabulary (and xgrammar on it), and the extraction-sentences fixture end to end. */
async function realJson(page: Page, s: Subject): Promise<void> {
  const tokenizer = await modelTokenizer(s.model);
  const config = JSON.parse(readFileSync(join(MODELS_DIR, s.model, 'config.json'), 'utf8'));
  const byteLevel = (tokenizer as unknown as { _tokenizerJSON?: { decoder?: { type?: string } } })._tokenizerJSON?.decoder?.type === 'ByteLevel';
  const vocab = `${s.model} vocabulary (${config.vocab_size.toLocaleString('en')})`;
  await maskRows(tokenizer, config.vocab_size, vocab, byteLevel ? { type: 'byte_level', prependSpace: false } : { type: 'byte_fallback', prependSpace: false }, REAL_RUNS);
  const fixture = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/extraction-sentences.json'), 'utf8')) as { cases: Array<{ text: string; schema: object }> };
  await extraction(page, s, REAL_RUNS, fixture.cases.slice(0, QUICK ? 2 : undefined), 'extraction-sentences fixture');
}

/**
 * The real models present in public/models (or stories260K in quick mode), each with the GGUF wllama
 * runs: the original file, checked against its SHA-256 and put beside the converted files (gguf/), so
 * that the same server serves both runtimes.
 */
async function realSubjects(): Promise<Subject[]> {
  if (QUICK) return [subject('stories260k', 'fp32', { url: '/models/stories260k/gguf/model-f32.gguf', label: 'F32', bytes: subject('stories260k', 'fp32').bytes })];
  const found: Subject[] = [];
  for (const id of args.models.split(',').filter(Boolean)) {
    const real = REAL_SOURCES[id];
    if (!real) throw new Error(`--models: unknown real model "${id}"; choose from ${Object.keys(REAL_SOURCES).join(', ')}`);
    if (!existsSync(join(MODELS_DIR, id, 'manifest.json'))) {
      notes.push(`${id}: skipped, public/models/${id} is absent (build it with \`npm run models -- ${id}\`).`);
      log(`${id}: skipped (not built)`);
      continue;
    }
    const name = real.source.gguf.local.split('/').pop()!;
    const path = join(MODELS_DIR, id, 'gguf', name);
    if (!existsSync(path) || statSync(path).size !== real.source.gguf.bytes) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, await resolveSource(real.source.gguf));
    }
    found.push(subject(id, 'q4', { url: `/models/${id}/gguf/${name}`, label: `${real.label} (original GGUF)`, bytes: real.source.gguf.bytes }));
  }
  return found;
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
  ratio('cache write ÷ bare IndexedDB write', '-', write / bareWrite, 'report');
  ratio('cache read ÷ bare IndexedDB read', '-', read / bareRead, 'report');
}

async function main(): Promise<void> {
  const started = performance.now();
  models();
  const server = await startHarnessServer();
  const browser = await launchChromium({ webgpu: false });
  try {
    const page = await benchPage(browser, server.url);
    const isolated = await call(page, 'crossOriginIsolated');
    const real = await realSubjects();
    notes.push(
      'Each side runs the same ONNX file. Ours: the public worker API (SlmClient.inWorker, load, generate). transformers.js: AutoTokenizer + AutoModelForCausalLM.generate in its own worker, device "wasm", greedy with min_new_tokens = max_new_tokens, as its documentation shows; it is pointed at onnxruntime-web\'s WASM-only build (the files ours runs): its own choice, the WebGPU build (asyncify), has no CPU kernel for GatherBlockQuantized, so it cannot create a session for the real models\' quantized files. onnxruntime-node: InferenceSession with intraOpNumThreads = threads, graph optimisation "all", the same feed loop (KV cache fed back, argmax).',
      'Decode tokens/s counts the tokens after the first over the time from the first token to the last; prefill tokens/s is prompt tokens over the time to the first token. Sides are interleaved run by run (order rotated), after one full-length warm-up each.',
      'Start-up: a new worker each time; cold = our IndexedDB cache, CacheStorage and the origin-private file system (wllama\'s cache) cleared, files from the local servers; warm = second load with caches filled.',
      'Memory: VmHWM − VmRSS-before of the renderer process that hosts the page and its workers (/proc), a new browser context per load (cold), ÷ the bytes of the file that side loads (the ONNX file; for wllama the GGUF).',
      'Real models (SmolLM2-135M-Instruct q4, Gemma 3 270M q4 when built): ours and transformers.js run the same ONNX file; wllama runs the original GGUF the folder was converted from (Q4_1, Q4_K_M), put in the folder\'s gguf/ and served by the same local server; caller-side wall-clock for ours and wllama, transformers.js timed in its worker. Prefill prompts start differently on every run, so that no prompt cache (ours, llama.cpp\'s) serves them.',
      'Chat: five user turns, replies greedy and fed back; ours through chat.completions.create (stream) with its KV cache kept between turns, a new worker per conversation; transformers.js prompts every turn from scratch through apply_chat_template, as documented. Time to first token = the call to its first content chunk (ours) or first generated token (transformers.js).',
      'Extraction-sentences fixture: extract() per case (its own schema), with drafts (default) and with lookahead: false; unconstrained = generate() of as many tokens from extractionPrompt(text). Mask rows on a model\'s own vocabulary: MASK_SCHEMA and its fixed target document, ours vs xgrammar (CPU time).',
      'Threads: ours with 1 thread and with the thread count the runtime chooses when load() gets none, each beside onnxruntime-node with the same count (last-row logits only where the graph has num_logits_to_keep).',
      'Fine-tune: model.fineTune in the worker with its defaults (rank, targets, layers, learning rate, batch) except epochs 1, maxLength 64, no held-out split, seed 1, on the first lines of tests/fixtures/support-queues.train.txt; one fine-tune per thread count, each in a new browser context; training tokens/s is the last progress report\'s (training-graph tokens over training time); memory is the renderer\'s VmHWM, reset after load, over its RSS before load. Decode with ÷ without the adapter: greedy, interleaved, on the model that trained it. WebGPU: SwiftShader in this Chromium, so its tokens/s is correctness only.',
      'llama.cpp in WASM: @wllama/wllama with its wasm served by this app, loading the GGUF files the model pipeline exports from the same weights (F32; Q8_0 where rows are a multiple of 32, F32 otherwise), n_threads = 1, temperature 0, ignore_eos; caller-side wall-clock (first streamed chunk, end) for both sides; warm load = second and later loads from each runtime\'s own cache. wllama starts workers from blob: URLs, so its page runs without the strict CSP.',
    );
    const versions = (name: string): string => JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    // Written again after each real-model group, so that a long run that stops keeps what it measured.
    const save = (): { json: string; md: string } => {
      const report: Report = {
        date: new Date().toISOString(),
        machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), chromium: browser.version(), node: process.version, crossOriginIsolated: String(isolated) },
        versions: { 'onnxruntime-web': versions('onnxruntime-web'), 'onnxruntime-node': versions('onnxruntime-node'), '@huggingface/transformers': versions('@huggingface/transformers') },
        settings: { runs: RUNS, realRuns: REAL_RUNS, newTokens: NEW_TOKENS, prefillTokens: PREFILL_TOKENS, quick: QUICK, seconds: Math.round((performance.now() - started) / 1000) },
        rows,
        ratios,
        notes,
      };
      return writeReport(OUT, report);
    };
    for (const model of ['speed', 'llama.cpp', 'start-up'].some(wanted) ? MODELS : []) {
      const s = subject(model, 'fp32');
      if (wanted('speed')) {
        log(`${model}: decode and prefill, 1 thread, ours / transformers.js / onnxruntime-node`);
        await speed(page, s, 1, true);
        if (!QUICK && isolated) {
          log(`${model}: 2 threads, ours / onnxruntime-node`);
          await speed(page, s, 2, false);
        }
      }
      if (wanted('llama.cpp')) {
        log(`${model}: ours / llama.cpp (wllama)`);
        await llamaCpp(page, model);
      }
      if (wanted('start-up') && !QUICK) {
        // (quick mode times start-up with the real-model rows, on stories260k too)
        log(`${model}: start-up`);
        await startup(page, s, RUNS);
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
      await loadMemory(browser, server.url, subject('llama-110m', 'q4'), RUNS, ['ours'], 1.3);
    }
    for (const s of real) {
      const [model, dtype] = [s.model, s.dtype];
      if (wanted('real')) {
        log(`${model} ${dtype}: decode, prefill, time to first token; ours / transformers.js / wllama (${s.gguf!.label})`);
        await sideBySide(browser, server.url, s, REAL_RUNS, NEW_TOKENS, PREFILL_TOKENS, { decodeVsWllama: 1, decodeVsTransformers: GOALS[model]!.vsTransformers });
        save();
      }
      if (wanted('real-start-up')) {
        log(`${model} ${dtype}: start-up, ours / transformers.js / wllama`);
        await startup(page, s, REAL_RUNS);
        save();
      }
      if (!QUICK && wanted('real-memory')) {
        log(`${model} ${dtype}: memory while loading, ours / transformers.js / wllama`);
        await loadMemory(browser, server.url, s, REAL_RUNS, ['ours', 'transformers.js', 'wllama'], 1.3);
        save();
      }
      if (wanted('chat')) {
        log(`${model} ${dtype}: chat of ${CHAT_TURNS.length} turns, ours / transformers.js`);
        await chat(page, s, REAL_RUNS, QUICK ? 8 : 32, CHAT_TURNS);
        save();
      }
      if (wanted('real-json')) {
        log(`${model} ${dtype}: mask on its vocabulary (ours / xgrammar), extraction-sentences fixture`);
        await realJson(page, s);
        save();
      }
      if (wanted('threads')) {
        log(`${model} ${dtype}: default threads and 1 thread, ours / onnxruntime-node`);
        await threadRows(page, s);
        save();
      }
      if (wanted('fine-tune')) {
        const threads = QUICK || !isolated ? [1] : [1, 2];
        log(`${model} ${dtype}: fine-tune on WASM (${threads.join(' and ')} thread(s)), memory while training, decode with the adapter`);
        await fineTuneRows(browser, server.url, s, { runs: QUICK ? RUNS : 1, decodeRuns: REAL_RUNS, newTokens: NEW_TOKENS, threads, examples: QUICK ? 16 : 100 });
        save();
      }
    }
    if (wanted('fine-tune')) {
      log('stories260k: fine-tune on WebGPU (SwiftShader: correctness only)');
      await webgpuFineTuneRows(server.url, QUICK ? RUNS : 1);
    }
    if (wanted('cache')) {
      log('cache throughput');
      await cacheThroughput(page);
    }
    const files = save();
    log(`wrote ${files.json} and ${files.md} in ${Math.round((performance.now() - started) / 1000)} s`);
    for (const r of ratios) log(`${r.name} [${r.model}]: ${r.value.toFixed(2)} (goal ${r.goal})`);
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
