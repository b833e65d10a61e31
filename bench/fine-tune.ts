/**
 * The fine-tune group: LoRA fine-tuning (issue #14) through the public worker API in Chromium — training
 * tokens/s on WASM with 1 and 2 threads, the time of one epoch over the support-queues fixture, the
 * renderer's peak memory while training ÷ the model file, decode tokens/s with the adapter ÷ without, and
 * training on WebGPU (SwiftShader here: checked for correctness, its speed is not a measure of anything).
 */
import type { Browser } from 'playwright-core';
import { launchChromium } from '../scripts/harness.ts';
import type { FineTuneExample, FineTuneOptions } from '../src/index.ts';
import { supportQueues } from '../tests/support/fine-tune-fixture.ts';
import { call, ratio, record } from './session.ts';
import { benchPage, measuredPage, subject, type Subject } from './sides.ts';

/** The case: examples of at most 64 tokens (prompt and completion, chat template included), one epoch. */
const MAX_TOKENS = 64;
const ADAPTER = 'bench';
/** fineTune's defaults for everything the issue does not fix (rank, targets, layers, learning rate, batch). */
const OPTIONS: Omit<FineTuneOptions, 'signal' | 'onProgress'> = { name: ADAPTER, epochs: 1, maxLength: MAX_TOKENS, validationSplit: 0, seed: 1 };
const TIME_GOAL_S = 300;

export interface FineTuneBench {
  /** Fine-tunes per thread count (each is minutes on SmolLM2). */
  runs: number;
  /** Interleaved rounds of decode with and without the adapter. */
  decodeRuns: number;
  newTokens: number;
  /** WASM thread counts to train with (2 needs cross-origin isolation). */
  threads: number[];
  /** How many of the fixture's training lines (it interleaves the 6 queues) make the examples. */
  examples: number;
}

const fixture = (n: number): FineTuneExample[] => supportQueues('train').slice(0, n);

/**
 * One epoch over the first `b.examples` lines of tests/fixtures/support-queues.train.txt on WASM, a new
 * browser context (renderer) per fine-tune: wall-clock of the fineTune call, its training tokens/s, and the
 * renderer's peak RSS while training (VmHWM reset after load) over its RSS before load, ÷ the file's bytes.
 * After the first 1-thread fine-tune, greedy decode with the new adapter and without, interleaved.
 */
export async function fineTuneRows(browser: Browser, url: string, s: Subject, b: FineTuneBench): Promise<void> {
  const examples = fixture(b.examples);
  const r = new Map(b.threads.map((t) => [t, { ms: [] as number[], tokens: [] as number[], memory: [] as number[], added: [] as number[] }]));
  const decode = { base: [] as number[], adapter: [] as number[] };
  for (const threads of b.threads) {
    for (let i = 0; i < b.runs; i++) {
      const m = await measuredPage(browser, url);
      await call(m.page, 'oursOpen', s.model, s.dtype, threads);
      m.resetPeak();
      const loaded = m.peakGrowth(); // the peak just reset is the RSS now
      const t = await call(m.page, 'oursFineTune', examples, OPTIONS);
      r.get(threads)!.memory.push(m.peakGrowth() / s.bytes);
      r.get(threads)!.added.push((m.peakGrowth() - loaded) / s.bytes);
      r.get(threads)!.ms.push(t.ms / 1000);
      r.get(threads)!.tokens.push(t.tokensPerSecond);
      if (threads === 1 && i === 0) {
        const prompt = 'Once upon a time';
        const run = async (adapter?: string): Promise<number> => (await call(m.page, 'oursGenerate', prompt, b.newTokens, adapter)).decodeTokensPerSecond;
        await run(); // warm-up of both (the adapter's LoRA inputs are packed on first use)
        await run(ADAPTER);
        for (let k = 0; k < b.decodeRuns; k++) {
          const order = k % 2 ? [ADAPTER, undefined] : [undefined, ADAPTER];
          for (const a of order) decode[a ? 'adapter' : 'base'].push(await run(a));
        }
      }
      await m.close();
    }
  }
  const what = `${examples.length} support-queues examples ≤ ${MAX_TOKENS} tokens, 1 epoch`;
  for (const [threads, v] of r) {
    const row = (metric: string, unit: string, values: number[], note?: string): number => record('fine-tune', s.model, s.dtype, 'wasm', threads, 'ours', metric, unit, values, note);
    const plural = `${threads} thread${threads > 1 ? 's' : ''}`;
    row(`training tokens/s (${what})`, 'tokens/s', v.tokens);
    const seconds = row(`fineTune() wall-clock (${what})`, 's', v.ms, 'training graph fetched and its session created included');
    const memory = row('peak renderer RSS growth while training ÷ file bytes', 'ratio', v.memory, `file ${s.bytes} bytes; RSS before load → peak after the load's peak was reset`);
    row('of which training: peak while training − RSS after load, ÷ file bytes', 'ratio', v.added);
    ratio(`fine-tune time, ${what} (${plural}, seconds)`, s.model, seconds, s.model === 'smollm2-135m-instruct' ? `≤ ${TIME_GOAL_S}` : 'report');
    ratio(`peak memory while training ÷ file bytes (${plural})`, s.model, memory, 'report');
  }
  const base = record('fine-tune', s.model, s.dtype, 'wasm', 1, 'ours', `decode, ${b.newTokens} new tokens, no adapter`, 'tokens/s', decode.base);
  const tuned = record('fine-tune', s.model, s.dtype, 'wasm', 1, 'ours', `decode, ${b.newTokens} new tokens, with the fine-tuned adapter`, 'tokens/s', decode.adapter);
  ratio('decode with an adapter ÷ without (1 thread, interleaved)', s.model, tuned / base, '≥ 0.9');
}

/**
 * fineTune on stories260K with device 'webgpu' in a Chromium with SwiftShader's adapter: the backend it
 * ran on, training tokens/s (SwiftShader is a CPU emulation: correctness only, never speed) and whether
 * the held-out loss went down from the first epoch to the second (12 examples, 3 held out).
 */
export async function webgpuFineTuneRows(url: string, runs: number): Promise<void> {
  const s = subject('stories260k', 'fp32');
  const browser = await launchChromium({ webgpu: true });
  const r = { tokens: [] as number[], down: [] as number[] };
  let backend = '';
  try {
    for (let i = 0; i < runs; i++) {
      const page = await benchPage(browser, url);
      await call(page, 'oursOpen', s.model, s.dtype, undefined, 'webgpu');
      const t = await call(page, 'oursFineTune', fixture(12), { ...OPTIONS, epochs: 2, validationSplit: 0.25 });
      const info = await call(page, 'oursInfo');
      backend = info.fellBack ? `${info.backend} (fell back: ${info.backendReason})` : `${info.backend} (SwiftShader)`;
      if (!t.trainLoss.concat(t.heldOutLoss).every(Number.isFinite)) throw new Error(`WebGPU fine-tune: a loss is not finite (${t.trainLoss.join(', ')})`);
      r.tokens.push(t.tokensPerSecond);
      r.down.push(t.heldOutLoss.at(-1)! / t.heldOutLoss[0]!);
      await page.context().close();
    }
  } finally {
    await browser.close();
  }
  record('fine-tune', s.model, s.dtype, backend, '-', 'ours', 'training tokens/s (9 support-queues examples, 2 epochs)', 'tokens/s', r.tokens, 'SwiftShader: correctness only, not a speed');
  ratio(`WebGPU fine-tune: held-out loss after epoch 2 ÷ after epoch 1 (${backend})`, s.model, Math.max(...r.down), '≤ 1', 'finite losses checked');
}
