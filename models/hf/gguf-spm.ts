/**
 * SentencePiece BPE (`tokenizer.ggml.model = "llama"`) as llama.cpp runs it (llm_tokenizer_spm): spaces
 * become "▁", then the adjacent pair whose concatenation is the vocabulary piece with the highest score is
 * merged, again and again; what is left outside the vocabulary falls back to <0xXX> byte tokens.
 *
 * HF BPE merges by rank instead, so every pair (a, b) that llama.cpp could merge becomes a merge ranked by
 * the score of a + b. A symbol llama.cpp merges is a single character or an earlier merge's result (a
 * piece), so a and b range over pieces and single characters. Gemma's scores are placeholders that only
 * order the pieces (score = -rank), which is all this needs.
 */
import { type GgufMetadata, GgufMetadataError, optionalBool, optionalInt, optionalNumberArray } from './gguf-metadata.ts';
import type { GgufVocab, TokenizerModelParts } from './tokenizer-gguf.ts';

interface Merge {
  left: string;
  right: string;
  score: number;
  id: number;
  at: number;
}

/** Spaces become "▁"; with a space prefix, every text (and every text after a special token) gets one first. */
export function sentencePieceNormalizer(addSpacePrefix: boolean): object {
  return {
    type: 'Sequence',
    normalizers: [
      ...(addSpacePrefix ? [{ type: 'Prepend', prepend: '▁' }] : []),
      { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    ],
  };
}

/** Undoes the normalizer: "▁" back to spaces, <0xXX> tokens back to bytes, the prefix space dropped. */
export function sentencePieceDecoder(addSpacePrefix: boolean): object {
  return {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
    ],
  };
}

export function sentencePieceBpe(md: GgufMetadata, vocab: GgufVocab): TokenizerModelParts {
  const scores = optionalNumberArray(md, 'tokenizer.ggml.scores', vocab.tokens.length);
  if (!scores) throw new GgufMetadataError('GGUF metadata: tokenizer.ggml.scores is missing (a SentencePiece vocabulary needs it)');
  if (optionalBool(md, 'tokenizer.ggml.remove_extra_whitespaces')) {
    throw new GgufMetadataError('GGUF metadata: tokenizer.ggml.remove_extra_whitespaces is not supported');
  }
  const addSpacePrefix = optionalBool(md, 'tokenizer.ggml.add_space_prefix') ?? true;
  const unk = optionalInt(md, 'tokenizer.ggml.unknown_token_id') ?? 0;

  // Added tokens never reach the model: a piece made from one could never form.
  const usable = (s: string, singleChar: boolean): boolean => {
    const id = vocab.ids.get(s);
    return id === undefined ? singleChar : !vocab.added.has(id);
  };
  const merges: Merge[] = [];
  vocab.tokens.forEach((piece, id) => {
    if (vocab.added.has(id)) return;
    // Split only between code points (llama.cpp's symbols are UTF-8 characters).
    const firstEnd = piece.length > 1 && piece.codePointAt(0)! > 0xffff ? 2 : 1;
    for (let at = firstEnd; at < piece.length; at += piece.codePointAt(at)! > 0xffff ? 2 : 1) {
      const left = piece.slice(0, at);
      const right = piece.slice(at);
      const rightIsChar = right.length === (right.codePointAt(0)! > 0xffff ? 2 : 1);
      if (usable(left, at === firstEnd) && usable(right, rightIsChar)) merges.push({ left, right, score: scores[id]!, id, at });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.at - b.at);

  return {
    normalizer: sentencePieceNormalizer(addSpacePrefix),
    pre_tokenizer: null,
    decoder: sentencePieceDecoder(addSpacePrefix),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocab.tokens[unk] ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.ids),
      merges: merges.map((m) => [m.left, m.right]),
    },
    cleanSpaces: false,
    addBosDefault: true,
  };
}
