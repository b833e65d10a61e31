import { describe, expect, it } from 'vitest';
import { KNOWN_GOOD, storiesReference } from '../support/sources.ts';

describe('independent llama2.c reference', () => {
  it('greedy-decodes the documented known-good continuation of stories260K', async () => {
    const { model, tokenizer } = await storiesReference();
    const prompt = tokenizer.encode(KNOWN_GOOD.prompt);
    expect(prompt).toEqual(KNOWN_GOOD.promptIds);
    const generated = model.greedy(prompt, 40);
    expect(generated.slice(0, 6)).toEqual(KNOWN_GOOD.firstIds);
    expect(tokenizer.decode([...prompt, ...generated]).startsWith(KNOWN_GOOD.text)).toBe(true);
  });
});
