/**
 * The Teach panel's examples, as typed or uploaded: one example per line, either `input → output`
 * (`->` also works) or a JSON object (`{"prompt","completion"}` or `{"messages": [...]}`, i.e. JSONL).
 * Every bad line is reported with its number, so nothing has to be retyped to find the mistake.
 */
import type { ChatMessage, FineTuneExample } from '../src/index.ts';

/** A problem with the pasted or uploaded examples; the message names each bad line (the first few). */
export class ExamplesError extends Error {
  override name = 'ExamplesError';
  constructor(readonly problems: string[]) {
    const shown = problems.slice(0, 3);
    super(problems.length > shown.length ? `${shown.join('; ')}; and ${problems.length - shown.length} more` : shown.join('; '));
  }
}

const ROLES = new Set(['system', 'user', 'assistant']);

function fromJson(line: string): FineTuneExample | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  const o = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a JSON line must be an object';
  if ('messages' in o) {
    const messages = o.messages as ChatMessage[];
    if (!Array.isArray(messages) || !messages.every((m) => typeof m === 'object' && m !== null && ROLES.has(m.role) && typeof m.content === 'string')) {
      return '"messages" must be a list of {"role": "system" | "user" | "assistant", "content": "…"}';
    }
    // What the model learns is the assistant's reply: a conversation must end with one.
    const last = messages.at(-1);
    if (last?.role !== 'assistant' || !last.content.trim()) return 'the conversation must end with a non-empty assistant message';
    return { messages };
  }
  if (typeof o.prompt !== 'string' || typeof o.completion !== 'string') return 'a JSON line needs "prompt" and "completion" strings (or "messages")';
  if (!o.completion.trim()) return 'the completion is empty';
  return { prompt: o.prompt, completion: o.completion };
}

function fromArrow(line: string): FineTuneExample | string {
  // The output is usually short (a label, a code): split at the last arrow, so the input may contain one.
  const arrow = line.includes('→') ? '→' : '->';
  const at = line.lastIndexOf(arrow);
  if (at < 0) return 'no "→" between the input and the output';
  const prompt = line.slice(0, at).trim();
  const completion = line.slice(at + arrow.length).trim();
  if (!prompt) return 'the input before "→" is empty';
  if (!completion) return 'the output after "→" is empty';
  return { prompt, completion };
}

/** The examples in `text`; blank lines are skipped. Throws an ExamplesError naming every bad line. */
export function parseExamples(text: string): FineTuneExample[] {
  const examples: FineTuneExample[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const parsed = line.startsWith('{') ? fromJson(line) : fromArrow(line);
    if (typeof parsed === 'string') problems.push(`line ${i + 1}: ${parsed}`);
    else examples.push(parsed);
  });
  if (problems.length) throw new ExamplesError(problems);
  if (!examples.length) throw new ExamplesError(['no examples: write one per line as "input → output", or one JSON object per line']);
  return examples;
}

/** The expected output of an example: its completion, or its last (assistant) message. */
export const expectedOf = (e: FineTuneExample): string => ('messages' in e ? e.messages.at(-1)!.content : e.completion);

/**
 * Exact match of a uniform random guess among the distinct outputs, when the outputs are labels (each
 * shared by at least two examples on average); undefined for free-form outputs.
 */
export function chanceOf(examples: FineTuneExample[]): number | undefined {
  const distinct = new Set(examples.map((e) => expectedOf(e).trim())).size;
  return distinct > 1 && distinct * 2 <= examples.length ? 1 / distinct : undefined;
}
