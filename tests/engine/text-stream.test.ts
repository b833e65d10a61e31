import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { StopStringFilter, TokenTextStream } from '../../src/engine/generation/text-stream.ts';
import { MODELS_DIR } from '../support/sources.ts';

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;

describe('TokenTextStream with the stories260k tokenizer', () => {
  let tokenizer: PreTrainedTokenizer;
  beforeAll(async () => {
    tokenizer = await AutoTokenizer.from_pretrained('stories260k', { local_files_only: true });
  });

  it.each([
    'Once upon a time, there was a little girl named Lily.',
    ' Emoji 😀🎉 and CJK 日本語 split into byte tokens, then café.',
    '\n\nTwo lines\nand   spaces ',
  ])('streams %j without broken characters and reassembles it exactly', (continuation) => {
    const prompt = tokenizer.encode('Hello');
    const all = tokenizer.encode(`Hello${continuation}`);
    expect(all.slice(0, prompt.length)).toEqual(prompt);
    const generated = all.slice(prompt.length);
    const stream = new TokenTextStream((ids) => tokenizer.decode(ids, { skip_special_tokens: true }), prompt);
    const chunks = generated.map((id) => stream.push(id));
    chunks.push(stream.flush());
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
    expect(chunks.join('')).toBe(continuation);
    expect(chunks.filter(Boolean).length).toBeGreaterThan(3);
  });

  it('keeps the leading space of the first generated word after a prompt', () => {
    const stream = new TokenTextStream((ids) => tokenizer.decode(ids, { skip_special_tokens: true }), tokenizer.encode('Once upon a'));
    expect(stream.push(tokenizer.encode(' time', { add_special_tokens: false }).at(-1)!)).toBe(' time');
  });
});

describe('StopStringFilter', () => {
  it('cuts before a stop string split across chunks and never shows part of it', () => {
    const f = new StopStringFilter(['<END>', 'stop here']);
    const shown: string[] = [];
    let stopped = false;
    for (const chunk of ['Hello <', 'EN', 'D> never shown']) {
      const r = f.push(chunk);
      shown.push(r.text);
      if (r.stopped) {
        stopped = true;
        break;
      }
    }
    expect(stopped).toBe(true);
    expect(shown.join('')).toBe('Hello ');
    expect(shown).toEqual(['Hello ', '', '']);
  });

  it('releases held-back text that turned out not to be a stop string', () => {
    const f = new StopStringFilter(['stop here']);
    expect(f.push('we stop')).toEqual({ text: 'we ', stopped: false });
    expect(f.push('ped')).toEqual({ text: 'stopped', stopped: false });
    expect(f.push(' st')).toEqual({ text: ' ', stopped: false });
    expect(f.flush()).toBe('st');
  });
});
