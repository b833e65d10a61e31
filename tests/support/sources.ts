/** Test access to the real model data, resolved the same way the converter resolves it. */
import { join } from 'node:path';
import { PROJECT_ROOT, resolveSource, STORIES_260K } from '../../models/sources.ts';
import { ReferenceModel, ReferenceTokenizer } from '../reference/llama2c.ts';

export const MODELS_DIR = join(PROJECT_ROOT, 'public', 'models');
export const STORIES_DIR = join(MODELS_DIR, 'stories260k');

export async function storiesReference(): Promise<{ model: ReferenceModel; tokenizer: ReferenceTokenizer }> {
  const model = new ReferenceModel(await resolveSource(STORIES_260K.checkpoint));
  const tokenizer = new ReferenceTokenizer(await resolveSource(STORIES_260K.tokenizer), model.vocab);
  return { model, tokenizer };
}

/** The known-good greedy output documented with the checkpoint (shared/models/README.md). */
export const KNOWN_GOOD = {
  prompt: 'Once upon a time',
  promptIds: [1, 403, 407, 261, 378],
  firstIds: [432, 383, 286, 261, 376, 298],
  text: 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.',
};
