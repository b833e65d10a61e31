/**
 * tokenizer.json / tokenizer_config.json for a llama2.c vocabulary, in the legacy Llama layout that
 * transformers.js and HF tokenizers load: a BPE model with byte fallback, a normalizer that prepends "▁"
 * and maps spaces to "▁", and a decoder that undoes both.
 *
 * llama2.c's encoder repeatedly merges the adjacent pair whose *merged piece* has the highest score.
 * BPE merges by rank instead, so every pair (a, b) with a + b in the vocabulary becomes a merge, ranked
 * by the score of a + b: the two procedures then pick the same pair at every step.
 */
import type { Llama2cVocab } from '../llama2c/tokenizer-bin.ts';
import { CheckpointError } from '../llama2c/checkpoint.ts';
import { sentencePieceDecoder, sentencePieceNormalizer } from './gguf-spm.ts';

const SPECIAL = ['<unk>', '<s>', '</s>'] as const;
const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

/** llama2.c stores "▁" as a space and wraps BOS/EOS in newlines; HF names them plainly. */
export function hfPieces(vocab: Llama2cVocab): string[] {
  return vocab.pieces.map((p, id) => (id < SPECIAL.length ? SPECIAL[id]! : p.replaceAll(' ', '▁')));
}

export function buildTokenizerJson(vocab: Llama2cVocab): object {
  const pieces = hfPieces(vocab);
  const ids = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (ids.has(p)) throw new CheckpointError(`tokenizer: piece ${JSON.stringify(p)} appears twice (ids ${ids.get(p)} and ${id})`);
    ids.set(p, id);
  });

  const merges: Array<{ left: string; right: string; score: number; id: number; split: number }> = [];
  pieces.forEach((piece, id) => {
    if (id < SPECIAL.length || BYTE_PIECE.test(piece)) return;
    const chars = Array.from(piece);
    for (let split = 1; split < chars.length; split++) {
      const left = chars.slice(0, split).join('');
      const right = chars.slice(split).join('');
      if (ids.has(left) && ids.has(right)) merges.push({ left, right, score: vocab.scores[id]!, id, split });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.split - b.split);

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: sentencePieceNormalizer(true),
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: sentencePieceDecoder(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(pieces.map((p, id) => [p, id])),
      merges: merges.map((m) => [m.left, m.right]),
    },
  };
}

export function buildTokenizerConfig(maxLength: number): object {
  return {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    add_bos_token: true,
    add_eos_token: false,
    legacy: true,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
  };
}
