/**
 * Token-mask cost of JSON-constrained decoding on the 32,000-piece Llama-2 vocabulary (a stand-in for
 * the 49k / 262k vocabularies of real models), in Node, without a model: a fixed extraction schema, and
 * at each step the allowed token that copies most of a fixed target document (so every run walks the
 * same states). Times only the mask (computing the allowed set and applying it to a logits row), in
 * CPU time of this process: on a shared machine wall-clock time measures the other processes too.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { buildTokenizerConfig, buildTokenizerJson } from '../models/hf/tokenizer.ts';
import { parseTokenizerBin } from '../models/llama2c/tokenizer-bin.ts';
import { LLAMA2_TOKENIZER, resolveSource } from '../models/sources.ts';
import { jsonSchemaConstraint, type Constraint } from '../src/engine/tasks/extract.ts';
import { JsonMatcher } from '../src/engine/tasks/json/matcher.ts';
import { compileSchema } from '../src/engine/tasks/json/schema.ts';
import { TokenTrie } from '../src/engine/tasks/json/token-mask.ts';
import { ratio, record } from './session.ts';

export const MASK_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 24 },
    age: { type: 'integer' },
    pet: { type: 'string', enum: ['dog', 'cat', 'bird'] },
    toys: { type: 'array', items: { type: 'string', maxLength: 16 }, maxItems: 4 },
    happy: { type: 'boolean' },
  },
  required: ['name', 'age', 'pet', 'toys', 'happy'],
  additionalProperties: false,
};

export const MASK_TARGET = '{"name": "Lily Smith", "age": 7, "pet": "dog", "toys": ["red ball", "kite", "teddy bear"], "happy": true}';

export async function llama2Tokenizer(): Promise<PreTrainedTokenizer> {
  const vocab = parseTokenizerBin(await resolveSource(LLAMA2_TOKENIZER), 32000, LLAMA2_TOKENIZER.local);
  return new PreTrainedTokenizer(buildTokenizerJson(vocab), buildTokenizerConfig(4096));
}

/**
 * One document under the constraint: mask milliseconds per generated token, and the tokens. `table`
 * is the constraint as the engine uses it; `walk` is how masks were made before the state table: the
 * trie walked with matcher copies at every token, then every disallowed logit set one by one.
 */
export function maskRun(tokenizer: PreTrainedTokenizer, vocabSize: number, how: 'table' | 'walk', schema: object = MASK_SCHEMA): { msPerToken: number; tokens: number[] } {
  const constraint = how === 'table' ? jsonSchemaConstraint(tokenizer, schema, vocabSize) : walkConstraint(tokenizer, schema, vocabSize);
  const texts = tokenTexts(tokenizer);
  const logits = new Float32Array(vocabSize);
  let text = '';
  let spent = 0;
  const tokens: number[] = [];
  while (!constraint.complete) {
    logits.fill(0);
    const started = cpuMs();
    constraint.mask(logits);
    spent += cpuMs() - started - CPU_OVERHEAD_MS;
    // The allowed token that copies the longest next piece of the target.
    let best = -1;
    for (let id = 0; id < vocabSize; id++) {
      const s = texts[id];
      if (logits[id] === -Infinity || !s) continue;
      if (MASK_TARGET.startsWith(s, text.length) && (best < 0 || s.length > texts[best]!.length)) best = id;
    }
    if (best < 0) throw new Error(`the target document left the schema after ${JSON.stringify(text)}`);
    text += texts[best]!;
    constraint.accept(best);
    tokens.push(best);
  }
  if (text !== MASK_TARGET) throw new Error(`mask bench produced ${JSON.stringify(text)}`);
  return { msPerToken: spent / tokens.length, tokens };
}

const tries = new WeakMap<PreTrainedTokenizer, TokenTrie>();

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** What one cpuMs() pair itself costs, taken off each timed call. */
const CPU_OVERHEAD_MS = (() => {
  const n = 2000;
  let total = 0;
  for (let i = 0; i < n; i++) total -= cpuMs() - cpuMs();
  return total / n;
})();
const textCache = new WeakMap<PreTrainedTokenizer, string[]>();

/**
 * Each token's bytes as a string of char codes (the target is ASCII, so a token with other bytes never
 * matches it), computed once: the chooser must not make garbage while masks are timed.
 */
function tokenTexts(tokenizer: PreTrainedTokenizer): string[] {
  let texts = textCache.get(tokenizer);
  if (!texts) {
    texts = trieOf(tokenizer).bytesOf.map((bytes) => (bytes ? String.fromCharCode(...bytes) : ''));
    textCache.set(tokenizer, texts);
  }
  return texts;
}

function trieOf(tokenizer: PreTrainedTokenizer): TokenTrie {
  let trie = tries.get(tokenizer);
  if (!trie) tries.set(tokenizer, (trie = new TokenTrie(tokenizer)));
  return trie;
}

function walkConstraint(tokenizer: PreTrainedTokenizer, schema: object, vocabSize: number): Constraint {
  const t = trieOf(tokenizer);
  const matcher = JsonMatcher.start(compileSchema(schema));
  const allowed = new Uint8Array(vocabSize);
  return {
    mask(logits) {
      t.allowed(matcher, allowed);
      for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
    },
    accept(token) {
      for (const b of t.bytesOf[token] ?? []) matcher.feed(b);
    },
    get complete() {
      return matcher.complete;
    },
  };
}

/**
 * @mlc-ai/web-xgrammar (what WebLLM uses) on the same vocabulary, schema and tokens: milliseconds per
 * token of getNextTokenBitmask, and its one-off set-up (tokenizer info and schema compilation).
 */
export async function xgrammarRun(tokenizer: PreTrainedTokenizer, vocabSize: number, tokens: number[], runs: number, vocab: XgrammarVocab): Promise<{ msPerToken: number[]; setupMs: number }> {
  const xg = loadXgrammar();
  const entries = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
  const pieces: string[] = [];
  for (const [piece, id] of entries instanceof Map ? entries : Object.entries(entries)) pieces[id] = piece;
  const started = performance.now();
  const info = await xg.TokenizerInfo.createTokenizerInfo(pieces, vocab.type, vocab.prependSpace, vocabSize, tokenizer.all_special_ids);
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(info);
  // Any whitespace, at most one in a row: the grammar ours follows.
  const compiled = await compiler.compileJSONSchema(JSON.stringify(MASK_SCHEMA), true, undefined, undefined, true, 1);
  const setupMs = performance.now() - started;
  const msPerToken: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled);
    let spent = 0;
    for (const id of tokens) {
      const t = cpuMs();
      const mask = await matcher.getNextTokenBitmask();
      spent += cpuMs() - t - CPU_OVERHEAD_MS;
      if (!((mask[id >> 5]! >>> (id & 31)) & 1) || !matcher.acceptToken(id)) throw new Error(`xgrammar rejects token ${id} (${pieces[id]})`);
    }
    matcher.dispose();
    if (run > 0) msPerToken.push(spent / tokens.length); // run 0 warms up
  }
  return { msPerToken, setupMs };
}

/** How xgrammar reads the vocabulary's pieces: byte-level BPE (GPT-2, SmolLM2) or SentencePiece with byte fallback (Llama-2, Gemma). */
export interface XgrammarVocab {
  type: 'byte_level' | 'byte_fallback';
  prependSpace: boolean;
}

/**
 * Mask time per token on one vocabulary, in Node: the trie walk every token (how masks were made
 * before the state table), our state table on a schema's first document and on the next, and
 * xgrammar's getNextTokenBitmask on the same schema and tokens.
 */
export async function maskRows(tokenizer: PreTrainedTokenizer, vocabSize: number, label: string, vocab: XgrammarVocab, runs: number): Promise<void> {
  const mask = { walk: [] as number[], cold: [] as number[], warm: [] as number[] };
  // JIT warm-up of both paths (cpuUsage counts V8's compiler threads too).
  maskRun(tokenizer, vocabSize, 'walk');
  maskRun(tokenizer, vocabSize, 'table', { ...MASK_SCHEMA, description: 'warm-up' });
  for (let i = 0; i < runs; i++) {
    mask.walk.push(maskRun(tokenizer, vocabSize, 'walk').msPerToken);
    const fresh = { ...MASK_SCHEMA, description: `run ${i}` }; // a schema the table has not seen
    mask.cold.push(maskRun(tokenizer, vocabSize, 'table', fresh).msPerToken);
    mask.warm.push(maskRun(tokenizer, vocabSize, 'table', fresh).msPerToken);
  }
  const walk = record('json', label, '-', 'node', 1, 'before: trie walk every token', 'mask time per token', 'ms', mask.walk);
  const cold = record('json', label, '-', 'node', 1, 'ours: state table, first document', 'mask time per token', 'ms', mask.cold);
  const warm = record('json', label, '-', 'node', 1, 'ours: state table, same schema again', 'mask time per token', 'ms', mask.warm);
  ratio('mask time per token, state table ÷ trie walk (first document)', label, cold / walk, 'report');
  ratio('mask time per token, state table ÷ trie walk (schema seen before)', label, warm / walk, 'report');
  const xg = await xgrammarRun(tokenizer, vocabSize, maskRun(tokenizer, vocabSize, 'table').tokens, runs, vocab);
  const xgrammar = record('json', label, '-', 'node', 1, '@mlc-ai/web-xgrammar', 'mask time per token (getNextTokenBitmask)', 'ms', xg.msPerToken, `set-up (tokenizer info, schema compilation) ${Math.round(xg.setupMs)} ms`);
  ratio('mask time per token, ours ÷ xgrammar (first document)', label, cold / xgrammar, '≤ 1');
  ratio('mask time per token, ours ÷ xgrammar (schema seen before)', label, warm / xgrammar, '≤ 1');
}

interface Xgrammar {
  TokenizerInfo: { createTokenizerInfo(vocab: string[], type: string, prependSpace: boolean, size: number, stop: number[]): Promise<unknown> };
  GrammarCompiler: { createGrammarCompiler(info: unknown): Promise<{ compileJSONSchema(schema: string, anyWhitespace: boolean, indent: undefined, separators: undefined, strict: boolean, maxWhitespace: number): Promise<unknown> }> };
  GrammarMatcher: { createGrammarMatcher(compiled: unknown): Promise<{ getNextTokenBitmask(): Promise<Int32Array>; acceptToken(id: number): boolean; dispose(): void }> };
}

/** The package ships one UMD file inside a "type": "module" package, which Node will not load either way: run it as CommonJS. */
function loadXgrammar(): Xgrammar {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar/lib/index.js');
  const module = { exports: {} as Xgrammar };
  new Function('exports', 'module', 'require', '__filename', '__dirname', readFileSync(file, 'utf8'))(module.exports, module, require, file, file.replace(/\/[^/]*$/, ''));
  return module.exports;
}
