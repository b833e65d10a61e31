/** Stock transformers.js (Node build) loads the converted folder and reproduces the reference exactly. */
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReferenceModel, ReferenceTokenizer } from '../reference/llama2c.ts';
import { TOKENIZER_CORPUS as CORPUS } from '../support/corpus.ts';
import { MODELS_DIR, storiesReference } from '../support/sources.ts';

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;


describe('tokenizer.json (transformers.js) against the llama2.c encoder', () => {
  let tokenizer: PreTrainedTokenizer;
  let reference: ReferenceTokenizer;

  beforeAll(async () => {
    tokenizer = await AutoTokenizer.from_pretrained('stories260k', { local_files_only: true });
    reference = (await storiesReference()).tokenizer;
  });

  it.each(CORPUS)('encodes %j to exactly the reference ids and decodes it back', (text) => {
    const ids = tokenizer.encode(text);
    expect(ids).toEqual(reference.encode(text));
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(text);
  });

  it('uses byte fallback for characters outside the 512-piece vocabulary', () => {
    const ids = tokenizer.encode('日');
    // U+65E5 is E6 97 A5 in UTF-8: byte tokens are id = byte + 3.
    expect(ids.slice(-3)).toEqual([0xe6 + 3, 0x97 + 3, 0xa5 + 3]);
  });
});

describe('transformers.js AutoModelForCausalLM on the fp32 ONNX', () => {
  let tokenizer: PreTrainedTokenizer;
  let reference: { model: ReferenceModel; tokenizer: ReferenceTokenizer };

  beforeAll(async () => {
    tokenizer = await AutoTokenizer.from_pretrained('stories260k', { local_files_only: true });
    reference = await storiesReference();
  });

  it('greedy-decodes 64 tokens with exactly the reference ids for several prompts', async () => {
    const model = await AutoModelForCausalLM.from_pretrained('stories260k', { local_files_only: true, dtype: 'fp32' });
    for (const prompt of ['Once upon a time', 'Tom and Sue went to the park', 'The little dog was sad because', 'One day, a big bird']) {
      const inputs = tokenizer(prompt);
      const output = await model.generate({ ...inputs, max_new_tokens: 64, do_sample: false });
      const ids = Array.from((output as unknown as { data: BigInt64Array }).data, Number);
      const promptIds = reference.tokenizer.encode(prompt);
      const expected = [...promptIds, ...reference.model.greedy(promptIds, 64)];
      // The reference stops at EOS/BOS without emitting it; transformers.js includes the EOS it stopped on.
      expect(ids.slice(0, expected.length), prompt).toEqual(expected);
      expect(ids.length - expected.length).toBeLessThanOrEqual(1);
    }
    await model.dispose();
  });
});
