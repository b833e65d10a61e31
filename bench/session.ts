/** What every bench group shares: the page driver and the rows, ratios and notes of this run's report. */
import { join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../models/sources.ts';
import type { BenchPage } from './page/bench.ts';
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
export async function prefillPrompt(model: string, tokens: number, opening = ''): Promise<{ text: string; ids: number[] }> {
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
