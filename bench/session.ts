/** What every bench group shares: the page driver and the rows, ratios and notes of this run's report. */
import { join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../models/sources.ts';
import type { BenchPage } from './page/bench.ts';
import type { Run } from './page/types.ts';
import { summarize, type Ratio, type Row } from './report.ts';

export const rows: Row[] = [];
export const ratios: Ratio[] = [];
export const notes: string[] = [];
export const log = (line: string): void => console.log(`bench: ${line}`);

/** Adds a row of measurements; returns their median. */
export function record(measure: string, model: string, dtype: string, backend: string, threads: number | string, side: string, metric: string, unit: string, values: number[], note?: string): number {
  const s = summarize(values);
  rows.push({ measure, model, dtype, backend, threads, side, metric, unit, ...s, ...(note && { note }) });
  return s.median;
}

/** Adds a ratio against its goal (`≥ x`, `≤ x`, or `report` for none). */
export function ratio(name: string, model: string, value: number, goal: string, note?: string): void {
  const bound = /^([≥≤]) ([\d.]+)$/.exec(goal);
  const met = !bound ? null : bound[1] === '≥' ? value >= Number(bound[2]) : value <= Number(bound[2]);
  ratios.push({ name, model, value, goal, met, ...(note && { note }) });
}

export async function call<K extends keyof BenchPage>(page: Page, name: K, ...params: Parameters<BenchPage[K]>): Promise<Awaited<ReturnType<BenchPage[K]>>> {
  return page.evaluate(({ name, params }) => (window as unknown as { bench: Record<string, (...a: unknown[]) => unknown> }).bench[name]!(...params), { name, params }) as never;
}

export const MODELS_DIR = join(PROJECT_ROOT, 'public', 'models');

/**
 * A prompt of about `tokens` tokens for the model's tokenizer: story text, repeated as needed, after
 * `opening` (a different one for each run keeps prompt caches from serving a prompt seen before).
 */
export interface Prompt {
  text: string;
  ids: number[];
}

/**
 * Decode (`decode`, `newTokens` greedy) and prefill runs of every side, interleaved: a full-length warm-up
 * of each (JIT, WASM heap growth as the KV cache grows), then `runs` rounds with the order rotated every
 * round. Each round's prefill prompt (`prefillTokens`) starts differently, so that no side's prompt cache
 * serves it from an earlier round.
 */
export async function interleavedRounds<S extends string>(
  model: string,
  sides: S[],
  runs: number,
  decode: Prompt,
  newTokens: number,
  prefillTokens: number,
  run: (side: S, prompt: Prompt, count: number) => Promise<Run>,
): Promise<{ results: Record<S, { decode: Run[]; prefill: Run[] }>; promptTokens: number }> {
  const warmUp = await prefillPrompt(model, prefillTokens, 'warm-up');
  for (const side of sides) {
    await run(side, decode, newTokens);
    await run(side, warmUp, 1);
  }
  const results = Object.fromEntries(sides.map((side) => [side, { decode: [] as Run[], prefill: [] as Run[] }])) as Record<S, { decode: Run[]; prefill: Run[] }>;
  let promptTokens = 0;
  for (let i = 0; i < runs; i++) {
    const prompt = await prefillPrompt(model, prefillTokens, `run ${i}`);
    promptTokens = prompt.ids.length;
    for (let j = 0; j < sides.length; j++) {
      const side = sides[(i + j) % sides.length]!;
      results[side].decode.push(await run(side, decode, newTokens));
      results[side].prefill.push(await run(side, prompt, 1));
    }
  }
  return { results, promptTokens };
}

export async function prefillPrompt(model: string, tokens: number, opening = ''): Promise<Prompt> {
  const tokenizer = await modelTokenizer(model);
  const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball under a tree and ran to get it. ';
  const words = `${opening ? `${opening}. ` : ''}${story.repeat(20)}`.split(' ');
  let text = '';
  for (const w of words) {
    const next = text ? `${text} ${w}` : w;
    if (tokenizer.encode(next).length > tokens) break;
    text = next;
  }
  return { text, ids: tokenizer.encode(text) };
}

const tokenizers = new Map<string, Promise<PreTrainedTokenizer>>();

/** The model folder's tokenizer, loaded once (Gemma's tokenizer.json is 33 MB). */
export function modelTokenizer(model: string): Promise<PreTrainedTokenizer> {
  let t = tokenizers.get(model);
  if (!t) tokenizers.set(model, (t = AutoTokenizer.from_pretrained(join(MODELS_DIR, model), { local_files_only: true })));
  return t;
}
