/**
 * Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): the file's vocabulary and merges, pre-tokenized by the
 * regexes llama.cpp runs for `tokenizer.ggml.pre` (llm_tokenizer_bpe in llama-vocab.cpp), applied one after
 * the other as Split pre-tokenizers, then mapped to bytes. Split patterns go through the HF regex engine,
 * whose `\s` is Unicode White_Space like llama.cpp's, where ByteLevel's own built-in regex uses JavaScript's.
 *
 * transformers' own GGUF loader drops the pre-tokenizer (for SmolLM2 it then merges digits that llama.cpp
 * splits one by one); here an unknown `tokenizer.ggml.pre` is an error instead.
 */
import { type GgufMetadata, GgufMetadataError, optionalString, requiredStringArray } from './gguf-metadata.ts';
import type { GgufVocab, TokenizerModelParts } from './tokenizer-gguf.ts';

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreTokenizer {
  regexes: string[];
  /** llama.cpp's clean_spaces for this pre-tokenizer. */
  cleanSpaces: boolean;
  /** A word that is a whole token skips the merges (llama.cpp's ignore_merges). */
  ignoreMerges?: boolean;
  addBos?: boolean;
}

const SINGLE_DIGITS_THEN_GPT2 = ['\\p{N}', GPT2];

/** `tokenizer.ggml.pre` → what llama.cpp does for it (llama_vocab::impl::load and llm_tokenizer_bpe). */
const PRE_TOKENIZERS: Record<string, PreTokenizer> = {
  'gpt-2': { regexes: [GPT2], cleanSpaces: true },
  'phi-2': { regexes: [GPT2], cleanSpaces: true },
  mpt: { regexes: [GPT2], cleanSpaces: true },
  olmo: { regexes: [GPT2], cleanSpaces: true },
  smollm: { regexes: SINGLE_DIGITS_THEN_GPT2, cleanSpaces: false },
  starcoder: { regexes: SINGLE_DIGITS_THEN_GPT2, cleanSpaces: true },
  refact: { regexes: SINGLE_DIGITS_THEN_GPT2, cleanSpaces: true },
  codeshell: { regexes: SINGLE_DIGITS_THEN_GPT2, cleanSpaces: true },
  'command-r': { regexes: SINGLE_DIGITS_THEN_GPT2, cleanSpaces: false },
  llama3: { regexes: [LLAMA3], cleanSpaces: true, ignoreMerges: true, addBos: true },
  'llama-v3': { regexes: [LLAMA3], cleanSpaces: true, ignoreMerges: true, addBos: true },
  'llama-bpe': { regexes: [LLAMA3], cleanSpaces: true, ignoreMerges: true, addBos: true },
  qwen2: { regexes: [QWEN2], cleanSpaces: false },
  'deepseek-r1-qwen': { regexes: [QWEN2], cleanSpaces: false },
  stablelm2: { regexes: [QWEN2], cleanSpaces: true },
};

export function byteLevelBpe(md: GgufMetadata, vocab: GgufVocab): TokenizerModelParts {
  const preName = optionalString(md, 'tokenizer.ggml.pre') ?? '(none)';
  const pre = PRE_TOKENIZERS[preName];
  if (!pre) {
    throw new GgufMetadataError(
      `GGUF pre-tokenizer "${preName}" (tokenizer.ggml.pre) is not supported; supported: ${Object.keys(PRE_TOKENIZERS).join(', ')}`,
    );
  }
  const merges = requiredStringArray(md, 'tokenizer.ggml.merges').map((merge, rank) => {
    // Split at the first space after the first character, as llama.cpp does.
    const at = merge.indexOf(' ', 1);
    if (at < 0) throw new GgufMetadataError(`GGUF merge ${rank} (${JSON.stringify(merge)}) is not "left right"`);
    return [merge.slice(0, at), merge.slice(at + 1)];
  });
  return {
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...pre.regexes.map((regex) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre.ignoreMerges ?? false,
      vocab: Object.fromEntries(vocab.ids),
      merges,
    },
    cleanSpaces: pre.cleanSpaces,
    addBosDefault: pre.addBos ?? false,
  };
}
