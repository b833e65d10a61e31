/**
 * tokenizer.json / tokenizer_config.json converted from real GGUF files (SmolLM2-135M-Instruct, byte-level
 * BPE; Gemma 3 270M, SentencePiece BPE), loaded by stock transformers.js, against llama.cpp reading the
 * same GGUF files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HfTokenizerFiles, tokenizerFromGgufMetadata } from '../../models/hf/tokenizer-gguf.ts';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { GEMMA3_GGUF, type GgufFile, ggufPath, SMOLLM2_GGUF } from '../support/gguf-files.ts';
import { readGgufKv } from '../support/gguf-kv.ts';
import { llamaCppVocab } from '../support/llama-cpp.ts';

const CORPUS: string[] = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/tokenizer-stress.json'), 'utf8'));

const CHAT = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hi! What is 2+2?' },
  { role: 'assistant', content: 'It is 4.' },
  { role: 'user', content: 'Thanks.' },
];

interface Case {
  name: string;
  gguf: GgufFile;
  /** CHAT rendered with the generation prompt, in the model's documented format. */
  chat: string;
  endOfTurn: string;
}

const CASES: Case[] = [
  {
    name: 'SmolLM2-135M-Instruct',
    gguf: SMOLLM2_GGUF,
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
    gguf: GEMMA3_GGUF,
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
  const id = name.replaceAll(' ', '-');

  beforeAll(async () => {
    const path = await ggufPath(gguf);
    files = tokenizerFromGgufMetadata(readGgufKv(path));
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

  it('decodes the ids back to the exact text', () => {
    const wrong = CORPUS.filter((text) => tokenizer.decode(tokenizer.encode(text, { add_special_tokens: false })) !== text);
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
