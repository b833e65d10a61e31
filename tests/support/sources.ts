/** Test access to the real model data, resolved the same way the converter resolves it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertShape } from '../../models/bert/weights.ts';
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

/** tests/fixtures/story-themes.tsv: labelled short story sentences, 3 balanced themes (chance 1/3). */
export function storyThemes(): Array<{ label: string; text: string }> {
  return readFileSync(join(PROJECT_ROOT, 'tests/fixtures/story-themes.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [label, text] = line.split('\t');
      return { label: label!, text: text! };
    });
}

export const ENCODER_DIR = join(MODELS_DIR, 'encoder-tiny');

/** The built encoder-tiny folder as the reference needs it: shape from config.json, vocabulary by id. */
export function encoderTiny(): { shape: BertShape; vocab: string[]; manifest: { files: Record<string, { bytes: number }> } } {
  const read = <T>(file: string): T => JSON.parse(readFileSync(join(ENCODER_DIR, file), 'utf8')) as T;
  const config = read<Record<string, number>>('config.json');
  const shape: BertShape = {
    hidden: config.hidden_size!,
    intermediate: config.intermediate_size!,
    layers: config.num_hidden_layers!,
    heads: config.num_attention_heads!,
    vocabSize: config.vocab_size!,
    maxPositions: config.max_position_embeddings!,
    typeVocabSize: config.type_vocab_size!,
  };
  const vocab = Object.entries(read<{ model: { vocab: Record<string, number> } }>('tokenizer.json').model.vocab)
    .sort(([, a], [, b]) => a - b)
    .map(([token]) => token);
  return { shape, vocab, manifest: read('manifest.json') };
}
