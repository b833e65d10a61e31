/**
 * tokenizer.json / tokenizer_config.json converted from real GGUF files (SmolLM2-135M-Instruct, byte-level
 * BPE; Gemma 3 270M, SentencePiece BPE), loaded by stock transformers.js, against llama.cpp reading the
 * same GGUF files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env, PreTrainedTokenizer } from '@huggingface/transformers';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufMetadataError } from '../../models/hf/gguf-metadata.ts';
import { type HfTokenizerFiles, TokenType, tokenizerFromGgufMetadata } from '../../models/hf/tokenizer-gguf.ts';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { readGguf } from '../../models/gguf/reader.ts';
import { GEMMA3_270M_Q4_K_M, SMOLLM2_135M_INSTRUCT, type SourceFile } from '../../models/sources.ts';
import { ggufPath } from '../support/gguf.ts';
import { llamaCppVocab } from '../support/llama-cpp.ts';
import { STORIES_DIR } from '../support/sources.ts';

const CORPUS: string[] = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/tokenizer-stress.json'), 'utf8'));

/** Pieces that stress tokenizers, for seeded random mixes: digits, whitespace, specials, scripts, emoji parts. */
const PIECES = [
  'a', 'e', 'th', 'the', ' and', 'ing', 'Hello', 'ABC', ' ', '  ', '\n', '\n\n', '\t', '\r\n', '\u00a0', '\u3000', '\u2003',
  '0', '1', '7', '42', '2024', '3.14', '.', ',', '!', '?', "'", "'s", "n't", '-', '_', '/', '//', '#', '<', '>', '(', ')', '{', '}',
  '"', '$', '%', '&', '*', '+', '=', '@', '\\', '`', '|', ';', ':', '…', '—', '“', '”', '<b>', '</s>', '<s>', '<table>',
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<start_of_turn>', '<end_of_turn>', '<bos>', 'é', 'ü', 'ñ', 'ß', 'Å', 'e\u0301',
  '日', '本語', '中文', '한국', 'Ω', 'π', 'Я', 'ж', 'א', 'ع', 'क', 'ก', 'ა', '½', '²', '١', '１', 'Ⅻ', '😀', '👍🏽', '\u200d', '🇫🇷',
  '\ufeff', '\u200b',
];

/** A seeded generator of integers in [0, n). */
function randomInts(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
}

function randomMixes(count: number, seed: number): string[] {
  const next = randomInts(seed);
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(40) }, () => PIECES[next(PIECES.length)]).join(''));
}

const CHAT = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hi! What is 2+2?' },
  { role: 'assistant', content: 'It is 4.' },
  { role: 'user', content: 'Thanks.' },
];

interface Case {
  name: string;
  gguf: SourceFile;
  /** CHAT rendered with the generation prompt, in the model's documented format. */
  chat: string;
  endOfTurn: string;
}

const CASES: Case[] = [
  {
    name: 'SmolLM2-135M-Instruct',
    gguf: SMOLLM2_135M_INSTRUCT.gguf,
    chat:
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nHi! What is 2+2?<|im_end|>\n' +
      '<|im_start|>assistant\nIt is 4.<|im_end|>\n' +
      '<|im_start|>user\nThanks.<|im_end|>\n' +
      '<|im_start|>assistant\n',
    endOfTurn: '<|im_end|>',
  },
  {
    name: 'Gemma 3 270M',
    gguf: GEMMA3_270M_Q4_K_M,
    chat:
      '<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHi! What is 2+2?<end_of_turn>\n' +
      '<start_of_turn>model\nIt is 4.<end_of_turn>\n' +
      '<start_of_turn>user\nThanks.<end_of_turn>\n' +
      '<start_of_turn>model\n',
    endOfTurn: '<end_of_turn>',
  },
];

const dir = mkdtempSync(join(tmpdir(), 'gguf-tokenizer-'));
env.localModelPath = `${dir}/`;
env.allowRemoteModels = false;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(CASES)('$name: tokenizer from GGUF metadata', ({ name, gguf, chat, endOfTurn }) => {
  let files: HfTokenizerFiles;
  let tokenizer: PreTrainedTokenizer;
  let llama: LlamaModel;
  let tokenTypes: ArrayLike<number>;
  const id = name.replaceAll(' ', '-');

  beforeAll(async () => {
    const path = await ggufPath(gguf);
    const metadata = readGguf(new Uint8Array(readFileSync(path)), path).metadata;
    tokenTypes = metadata['tokenizer.ggml.token_type'] as Int32Array;
    files = tokenizerFromGgufMetadata(metadata);
    mkdirSync(join(dir, id));
    writeFileSync(join(dir, id, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
    writeFileSync(join(dir, id, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfigJson));
    tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true });
    llama = await llamaCppVocab(path);
  });
  afterAll(async () => llama?.dispose());

  const llamaIds = (text: string): number[] => Array.from(llama.tokenize(text, true), Number);

  it("encodes every stress-corpus string to llama.cpp's ids", () => {
    const mismatches = CORPUS.filter((text) => JSON.stringify(tokenizer.encode(text, { add_special_tokens: false })) !== JSON.stringify(llamaIds(text)));
    const tokens = CORPUS.reduce((n, text) => n + llamaIds(text).length, 0);
    console.info(`${name}: ${CORPUS.length - mismatches.length}/${CORPUS.length} strings, ${tokens} llama.cpp tokens`);
    expect(mismatches.map((text) => ({ text, ours: tokenizer.encode(text, { add_special_tokens: false }), llama: llamaIds(text) }))).toEqual([]);
  });

  it("encodes 1,000 seeded random mixes of hard pieces to llama.cpp's ids and decodes them back", () => {
    const mixes = randomMixes(1000, 7);
    const wrong = mixes.filter((text) => {
      const ids = tokenizer.encode(text, { add_special_tokens: false });
      return JSON.stringify(ids) !== JSON.stringify(llamaIds(text)) || tokenizer.decode(ids) !== text;
    });
    console.info(`${name}: random mixes ${mixes.length - wrong.length}/${mixes.length}, ${mixes.reduce((n, t) => n + llamaIds(t).length, 0)} llama.cpp tokens`);
    expect(wrong).toEqual([]);
  });

  it('decodes the ids back to the exact text', () => {
    const wrong = CORPUS.filter((text) => tokenizer.decode(tokenizer.encode(text, { add_special_tokens: false })) !== text);
    expect(wrong).toEqual([]);
  });

  it('decodes 2,000 random token sequences exactly as llama.cpp detokenizes them', () => {
    const next = randomInts(11);
    const sequences = Array.from({ length: 2000 }, () => {
      const ids: number[] = [];
      const length = 1 + next(16);
      while (ids.length < length) {
        const id = next(tokenTypes.length);
        if (tokenTypes[id] !== TokenType.unused) ids.push(id);
      }
      return ids;
    });
    const wrong = sequences.filter((ids) => tokenizer.decode(ids) !== llama.detokenize(ids as Token[], true));
    expect(wrong).toEqual([]);
  });

  it('adds BOS to an encoded text exactly when llama.cpp does', () => {
    const bos = llama.tokens.shouldPrependBosToken ? [Number(llama.tokens.bos)] : [];
    expect(tokenizer.encode('Hello there')).toEqual([...bos, ...llamaIds('Hello there')]);
  });

  it("renders a two-turn chat in the model's own format", () => {
    const rendered = tokenizer.apply_chat_template(CHAT, { tokenize: false, add_generation_prompt: true });
    expect(rendered).toBe(chat);
  });

  it("tokenizes the rendered chat to llama.cpp's ids", () => {
    const ids = tokenizer.apply_chat_template(CHAT, { tokenize: true, add_generation_prompt: true, return_tensor: false, return_dict: false });
    expect(ids).toEqual(llamaIds(chat));
  });

  it('stops generation at the end-of-turn token, an end-of-generation token for llama.cpp too', () => {
    const endOfTurnId = tokenizer.convert_tokens_to_ids(endOfTurn);
    expect(files.eosTokenIds).toContain(endOfTurnId);
    expect(files.eosTokenIds.filter((t) => !llama.isEogToken(t as Token))).toEqual([]);
    expect(tokenizer.eos_token_id).toBe(Number(llama.tokens.eos));
  });
});

describe("stories260K's GGUF export: SentencePiece with a space prefix", () => {
  let tokenizer: PreTrainedTokenizer;
  let llama: LlamaModel;
  let vocabSize: number;

  beforeAll(async () => {
    const path = join(STORIES_DIR, 'gguf', 'model-f32.gguf');
    const metadata = readGguf(new Uint8Array(readFileSync(path)), path).metadata;
    vocabSize = (metadata['tokenizer.ggml.tokens'] as string[]).length;
    const { tokenizerJson, tokenizerConfigJson } = tokenizerFromGgufMetadata(metadata);
    tokenizer = new PreTrainedTokenizer(tokenizerJson, tokenizerConfigJson);
    llama = await llamaCppVocab(path);
  });
  afterAll(async () => llama?.dispose());

  it("encodes the corpus and 1,000 random mixes to llama.cpp's ids, a space prefixed to every text between special tokens", () => {
    const texts = [...CORPUS, ...randomMixes(1000, 7)];
    const wrong = texts.filter((text) => JSON.stringify(tokenizer.encode(text, { add_special_tokens: false })) !== JSON.stringify(Array.from(llama.tokenize(text, true), Number)));
    expect(wrong).toEqual([]);
  });

  it('decodes 2,000 random token sequences exactly as llama.cpp detokenizes them', () => {
    const next = randomInts(11);
    const sequences = Array.from({ length: 2000 }, () => Array.from({ length: 1 + next(16) }, () => next(vocabSize)));
    const wrong = sequences.filter((ids) => tokenizer.decode(ids) !== llama.detokenize(ids as Token[], true));
    expect(wrong).toEqual([]);
  });
});

describe('tokenizer from GGUF metadata: bad or unsupported input', () => {
  const gpt2 = { 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'gpt-2', 'tokenizer.ggml.tokens': ['a', 'b', 'ab'], 'tokenizer.ggml.merges': ['a b'] };
  const convert = (md: Record<string, unknown>) => () => tokenizerFromGgufMetadata(md);

  it('rejects an unknown tokenizer model, naming it', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.model': 'rwkv' })).toThrow(new GgufMetadataError('GGUF tokenizer model "rwkv" is not supported (supported: gpt2, llama)'));
  });

  it('rejects a pre-tokenizer it has no llama.cpp regexes for, naming it', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.pre': 'deepseek-coder' })).toThrow(/pre-tokenizer "deepseek-coder" \(tokenizer\.ggml\.pre\) is not supported/);
  });

  it('names a missing key', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.tokens': undefined })).toThrow(new GgufMetadataError('GGUF metadata: tokenizer.ggml.tokens is missing'));
  });

  it('names a key of the wrong type', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.token_type': 'normal' })).toThrow(new GgufMetadataError('GGUF metadata: tokenizer.ggml.token_type is string, expected an array of numbers'));
  });

  it('rejects a vocabulary that holds a token twice', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.tokens': ['a', 'b', 'a'] })).toThrow(/token "a" appears twice \(ids 0 and 2\)/);
  });

  it('rejects a special token id outside the vocabulary', () => {
    expect(convert({ ...gpt2, 'tokenizer.ggml.eos_token_id': 3 })).toThrow(/eos_token_id = 3 is outside the vocabulary \(3\)/);
  });
});

describe('end-of-generation ids', () => {
  it('are EOS, the declared end-of-turn and end-of-message ids, and tokens named like end-of-turn tokens', () => {
    const { eosTokenIds } = tokenizerFromGgufMetadata({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'gpt-2',
      'tokenizer.ggml.tokens': ['a', '</s>', '<turn>', '<msg>', '<|eot_id|>', 'b'],
      'tokenizer.ggml.merges': ['a b'],
      'tokenizer.ggml.eos_token_id': 1,
      'tokenizer.ggml.eot_token_id': 2,
      'tokenizer.ggml.eom_token_id': 3,
    });
    expect(eosTokenIds).toEqual([1, 2, 3, 4]);
  });
});

describe('SentencePiece merges from scores', () => {
  // llama.cpp merges the adjacent pair whose concatenation scores highest: "abc" → a|bc when bc outscores ab.
  it.each([
    [[0, 0, 0, -2, -1], ['a', 'bc']],
    [[0, 0, 0, -1, -2], ['ab', 'c']],
  ])('with scores %j encodes "abc" as %j', (scores, pieces) => {
    const { tokenizerJson, tokenizerConfigJson } = tokenizerFromGgufMetadata({
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': ['a', 'b', 'c', 'ab', 'bc'],
      'tokenizer.ggml.scores': new Float32Array(scores),
      'tokenizer.ggml.add_space_prefix': false,
      'tokenizer.ggml.add_bos_token': false,
      'tokenizer.ggml.unknown_token_id': 0,
    });
    expect(new PreTrainedTokenizer(tokenizerJson, tokenizerConfigJson).tokenize('abc')).toEqual(pieces);
  });
});
