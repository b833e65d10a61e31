/**
 * tokenizer.json + tokenizer_config.json from a GGUF file's tokenizer metadata, built to tokenize as
 * llama.cpp does (llama-vocab.cpp is the reference), so that any Hugging Face tokenizer (transformers.js,
 * tokenizers) gives llama.cpp's ids for the converted model.
 *
 * - `tokenizer.ggml.model = "gpt2"`: byte-level BPE with the file's merges, pre-tokenized by the regexes
 *   llama.cpp uses for `tokenizer.ggml.pre` (see gguf-bpe.ts).
 * - `tokenizer.ggml.model = "llama"`: SentencePiece BPE with byte fallback, its merges derived from the
 *   scores (see gguf-spm.ts).
 * Control, user-defined and unknown tokens become added tokens, matched in the raw text before anything
 * else, as llama.cpp's special-token partition does when it parses special tokens.
 */
import { byteLevelBpe } from './gguf-bpe.ts';
import { sentencePieceBpe } from './gguf-spm.ts';
import { chatTemplateFor } from './chat-templates.ts';
import {
  type GgufMetadata,
  GgufMetadataError,
  optionalBool,
  optionalInt,
  optionalNumberArray,
  optionalString,
  requiredString,
  requiredStringArray,
} from './gguf-metadata.ts';

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/**
 * Tokens llama.cpp treats as ending a turn, found by their text (llama-vocab.cpp, "find EOT token"):
 * they end generation, and llama.cpp always parses them as special tokens.
 */
const END_OF_TURN = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
]);

/** The vocabulary as the model builders see it. */
export interface GgufVocab {
  tokens: readonly string[];
  types: ArrayLike<number>;
  ids: ReadonlyMap<string, number>;
  /** Ids matched in the raw text before the model runs (HF added tokens). */
  added: ReadonlySet<number>;
}

/** The tokenizer.json parts that differ between tokenizer models. */
export interface TokenizerModelParts {
  normalizer: object | null;
  pre_tokenizer: object | null;
  decoder: object;
  model: object;
  /** llama.cpp's clean_spaces: whether decoding removes spaces before punctuation. */
  cleanSpaces: boolean;
  /** Whether llama.cpp prepends BOS when the file does not say (tokenizer.ggml.add_bos_token). */
  addBosDefault: boolean;
}

export interface HfTokenizerFiles {
  tokenizerJson: object;
  tokenizerConfigJson: object;
  /**
   * Ids that end generation: EOS and the end-of-turn tokens (`<|im_end|>`, `<end_of_turn>`...), each of
   * them end-of-generation for llama.cpp too. For `eos_token_id` in config.json / generation_config.json.
   */
  eosTokenIds: number[];
}

const TOKENIZER_CLASS: Record<string, string> = { gpt2: 'GPT2Tokenizer', llama: 'LlamaTokenizer' };

export function tokenizerFromGgufMetadata(md: GgufMetadata): HfTokenizerFiles {
  const kind = requiredString(md, 'tokenizer.ggml.model');
  const vocab = readVocab(md);
  let parts: TokenizerModelParts;
  if (kind === 'gpt2') parts = byteLevelBpe(md, vocab);
  else if (kind === 'llama') parts = sentencePieceBpe(md, vocab);
  else throw new GgufMetadataError(`GGUF tokenizer model "${kind}" is not supported (supported: ${Object.keys(TOKENIZER_CLASS).join(', ')})`);

  const tokenId = (key: string): number | undefined => {
    const id = optionalInt(md, `tokenizer.ggml.${key}_token_id`);
    if (id !== undefined && (id < 0 || id >= vocab.tokens.length)) {
      throw new GgufMetadataError(`GGUF metadata: tokenizer.ggml.${key}_token_id = ${id} is outside the vocabulary (${vocab.tokens.length})`);
    }
    return id;
  };
  const bos = tokenId('bos');
  const eos = tokenId('eos');
  const addBos = optionalBool(md, 'tokenizer.ggml.add_bos_token') ?? parts.addBosDefault;
  const addEos = optionalBool(md, 'tokenizer.ggml.add_eos_token') ?? false;
  if (addBos && bos === undefined) throw new GgufMetadataError('GGUF metadata: add_bos_token is true but bos_token_id is missing');
  if (addEos && eos === undefined) throw new GgufMetadataError('GGUF metadata: add_eos_token is true but eos_token_id is missing');
  const text = (id: number | undefined): string | null => (id === undefined ? null : vocab.tokens[id]!);

  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...vocab.added].sort((a, b) => a - b).map((id) => ({
      id,
      content: vocab.tokens[id],
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      // User-defined tokens are ordinary text (Gemma's "\n\n", "<table>"): decoding keeps them.
      special: vocab.types[id] !== TokenType.userDefined,
    })),
    normalizer: parts.normalizer,
    pre_tokenizer: parts.pre_tokenizer,
    post_processor: postProcessor(addBos ? text(bos) : null, addEos ? text(eos) : null, vocab),
    decoder: parts.decoder,
    model: parts.model,
  };

  const architecture = optionalString(md, 'general.architecture');
  const contextLength = architecture === undefined ? undefined : optionalInt(md, `${architecture}.context_length`);
  const chatTemplate = optionalString(md, 'tokenizer.chat_template') ?? chatTemplateFor(architecture);
  const tokenizerConfigJson = {
    tokenizer_class: TOKENIZER_CLASS[kind],
    bos_token: text(bos),
    eos_token: text(eos),
    unk_token: text(tokenId('unknown')),
    pad_token: text(tokenId('padding')),
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: parts.cleanSpaces,
    ...(contextLength === undefined ? {} : { model_max_length: contextLength }),
    ...(chatTemplate === undefined ? {} : { chat_template: chatTemplate }),
  };

  const endOfTurn = vocab.tokens.flatMap((t, id) => (END_OF_TURN.has(t) ? [id] : []));
  const declared = [eos, tokenId('eot'), tokenId('eom')].filter((t): t is number => t !== undefined);
  const eosTokenIds = [...new Set([...declared, ...endOfTurn])];
  return { tokenizerJson, tokenizerConfigJson, eosTokenIds };
}

function readVocab(md: GgufMetadata): GgufVocab {
  const tokens = requiredStringArray(md, 'tokenizer.ggml.tokens');
  const types = optionalNumberArray(md, 'tokenizer.ggml.token_type', tokens.length) ?? new Uint8Array(tokens.length).fill(TokenType.normal);
  const ids = new Map<string, number>();
  const added = new Set<number>();
  tokens.forEach((token, id) => {
    const seen = ids.get(token);
    if (seen !== undefined) throw new GgufMetadataError(`GGUF vocabulary: token ${JSON.stringify(token)} appears twice (ids ${seen} and ${id})`);
    ids.set(token, id);
    const type = types[id];
    // llama.cpp's special-token cache: control, user-defined and unknown tokens, plus end-of-turn tokens by name.
    if (type === TokenType.control || type === TokenType.userDefined || type === TokenType.unknown || END_OF_TURN.has(token)) added.add(id);
  });
  return { tokens, types, ids, added };
}

/** BOS / EOS around every encoded text, as llama.cpp adds them when add_special is set. */
function postProcessor(bos: string | null, eos: string | null, vocab: GgufVocab): object | null {
  if (bos === null && eos === null) return null;
  const special = (token: string | null, typeId: number): object[] => (token === null ? [] : [{ SpecialToken: { id: token, type_id: typeId } }]);
  const sequence = (id: 'A' | 'B', typeId: number): object => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [...special(bos, 0), sequence('A', 0), ...special(eos, 0)],
    pair: [...special(bos, 0), sequence('A', 0), ...special(eos, 0), ...special(bos, 1), sequence('B', 1), ...special(eos, 1)],
    special_tokens: Object.fromEntries(
      [bos, eos].filter((t): t is string => t !== null).map((t) => [t, { id: t, ids: [vocab.ids.get(t)!], tokens: [t] }]),
    ),
  };
}
