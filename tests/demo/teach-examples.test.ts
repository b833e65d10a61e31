/** The Teach panel's example parser: both line formats, and every bad line named by its number. */
import { describe, expect, it } from 'vitest';
import { chanceOf, ExamplesError, parseExamples } from '../../demo/teach-examples.ts';

const problemsOf = (text: string): string[] => {
  try {
    parseExamples(text);
  } catch (err) {
    if (err instanceof ExamplesError) return err.problems;
    throw err;
  }
  throw new Error('expected an ExamplesError');
};

describe('parseExamples', () => {
  it('reads "input → output" lines, trimmed, skipping blank lines', () => {
    expect(parseExamples('  Where is my parcel? →  harbor \n\n\r\nI was charged twice → quill\r\n')).toEqual([
      { prompt: 'Where is my parcel?', completion: 'harbor' },
      { prompt: 'I was charged twice', completion: 'quill' },
    ]);
  });

  it('accepts "->" for the arrow and splits at the last arrow, so the input may contain one', () => {
    expect(parseExamples('a -> b -> c\nx → y → z')).toEqual([
      { prompt: 'a -> b', completion: 'c' },
      { prompt: 'x → y', completion: 'z' },
    ]);
  });

  it('reads JSONL prompt/completion objects and conversations, mixed with arrow lines', () => {
    const chat = { messages: [{ role: 'system', content: 'Route it.' }, { role: 'user', content: 'Lost parcel' }, { role: 'assistant', content: 'harbor' }] };
    expect(parseExamples(`{"prompt": "p → q", "completion": "c"}\n${JSON.stringify(chat)}\nin → out`)).toEqual([{ prompt: 'p → q', completion: 'c' }, chat, { prompt: 'in', completion: 'out' }]);
  });

  it('names each bad line by its number and why', () => {
    const text = ['good → one', 'no arrow here', ' → empty input', 'empty output →', '{"prompt": "x"', '{"prompt": "x", "completion": " "}', '[1, 2]', '{"messages": [{"role": "user", "content": "hi"}]}', '{"messages": [{"role": "bot", "content": "hi"}]}'].join('\n');
    expect(problemsOf(text)).toEqual([
      'line 2: no "→" between the input and the output',
      'line 3: the input before "→" is empty',
      'line 4: the output after "→" is empty',
      'line 5: not valid JSON',
      'line 6: the completion is empty',
      'line 7: no "→" between the input and the output',
      'line 8: the conversation must end with a non-empty assistant message',
      'line 9: "messages" must be a list of {"role": "system" | "user" | "assistant", "content": "…"}',
    ]);
  });

  it('shows the first three problems in its message and counts the rest', () => {
    expect(() => parseExamples('a\nb\nc\nd\ne')).toThrow('line 1: no "→" between the input and the output; line 2: no "→" between the input and the output; line 3: no "→" between the input and the output; and 2 more');
  });

  it('rejects text with no examples at all', () => {
    expect(problemsOf(' \n\n')).toEqual(['no examples: write one per line as "input → output", or one JSON object per line']);
  });
});

describe('chanceOf', () => {
  it('is 1 / the number of distinct outputs when they are labels', () => {
    expect(chanceOf(parseExamples('a → x\nb → y\nc → x\nd → y\ne → z\nf → z'))).toBeCloseTo(1 / 3, 12);
  });

  it('is undefined for free-form outputs', () => {
    expect(chanceOf(parseExamples('a → x\nb → y\nc → z'))).toBeUndefined();
  });
});
