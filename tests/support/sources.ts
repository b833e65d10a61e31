/** Test access to the real model data, resolved the same way the converter resolves it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertShape, BertWeights } from '../../models/bert/weights.ts';
import { ALL_MINILM_L6_V2, PROJECT_ROOT, resolveSource, STORIES_260K } from '../../models/sources.ts';
import { referenceBertWeights, ReferenceWordPiece } from '../reference/bert.ts';
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

const fixtureRows = (name: string): string[][] =>
  readFileSync(join(PROJECT_ROOT, 'tests/fixtures', name), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t'));

/** A labelled fixture (label TAB text): story-themes.tsv (3 balanced themes), support-intents.tsv (4 balanced intents). */
export function labelledExamples(name = 'story-themes.tsv'): Array<{ label: string; text: string }> {
  return fixtureRows(name).map(([label, text]) => ({ label: label!, text: text! }));
}

export const storyThemes = (): Array<{ label: string; text: string }> => labelledExamples('story-themes.tsv');

/**
 * tests/fixtures/paraphrases.tsv: `pair TAB query TAB paraphrase` and `distractor TAB text` rows. A
 * paraphrase keeps the facts (names, numbers, days) and rewords the rest; each distractor shares words
 * with a query but means something else.
 */
export function paraphrases(): { pairs: Array<{ query: string; paraphrase: string }>; distractors: string[] } {
  const rows = fixtureRows('paraphrases.tsv');
  return {
    pairs: rows.filter((r) => r[0] === 'pair').map(([, query, paraphrase]) => ({ query: query!, paraphrase: paraphrase! })),
    distractors: rows.filter((r) => r[0] === 'distractor').map(([, text]) => text!),
  };
}

export const ENCODER_DIR = join(MODELS_DIR, 'encoder-tiny');
export const MINILM_DIR = join(MODELS_DIR, ALL_MINILM_L6_V2.id);

interface BertFolder {
  shape: BertShape;
  vocab: string[];
  manifest: { kind: string; source: { files: Array<{ sha256: string }> }; files: Record<string, { bytes: number; sha256: string }> };
}

export const encoderTiny = (): BertFolder => bertFolder(ENCODER_DIR);

/** all-minilm-l6-v2 as built, with the reference's own view of its source: weights read from model.safetensors, WordPiece from vocab.txt. */
export async function minilm(): Promise<BertFolder & { weights: BertWeights; wordPiece: ReferenceWordPiece }> {
  const folder = bertFolder(MINILM_DIR);
  const vocabTxt = new TextDecoder().decode(await resolveSource(ALL_MINILM_L6_V2.vocab));
  return {
    ...folder,
    weights: referenceBertWeights(await resolveSource(ALL_MINILM_L6_V2.weights), folder.shape.layers),
    wordPiece: new ReferenceWordPiece(vocabTxt.replace(/\n$/, '').split('\n')),
  };
}

/** A built BERT folder as the reference needs it: shape from config.json, vocabulary by id. */
function bertFolder(dir: string): BertFolder {
  const read = <T>(file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
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
