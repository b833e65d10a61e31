/**
 * Constrained extraction: the logits are masked at every step so the output is always a prefix of a
 * JSON document valid for the schema, and generation ends as soon as the document is complete.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { SlmError } from '../../errors.ts';
import { chatPromptIds } from './chat.ts';
import { JsonMatcher } from './json/matcher.ts';
import { compileSchema } from './json/schema.ts';
import { applyMask, StateTable, TokenTrie, type ByteMatcher, type State } from './json/token-mask.ts';

/** Plugged into the decode loop: masks what may not come next, follows what was chosen. */
export interface Constraint {
  mask(logits: Float32Array): void;
  accept(token: number): void;
  readonly complete: boolean;
  /** False while a stop string must not end the output (inside a tool call); stops apply otherwise. */
  readonly stoppable?: boolean;
  /**
   * Up to `max` tokens that probably come next (bytes the schema forces, else text copied from the
   * source): a draft for the decode loop to check in one model run. Absent when drafting is off.
   */
  draft?(max: number): number[];
}

export interface ConstraintOptions {
  /** Draft tokens (jump-forward through forced bytes, prompt lookup in `source`); default true. */
  draft?: boolean;
  /** The text being extracted from: drafts copy from it. */
  source?: string;
}

const tries = new WeakMap<PreTrainedTokenizer, TokenTrie>();
/** State tables per tokenizer, for the last few schemas (masks carry over from one call to the next). */
const tables = new WeakMap<TokenTrie, Map<string, { root: ReturnType<typeof compileSchema>; table: StateTable }>>();
const SCHEMAS_KEPT = 8;
/** Prompt lookup: the shortest generated tail (bytes) looked for in the source, and how much to copy. */
const LOOKUP = { minMatch: 3, maxMatch: 24, copy: 48 };

/** The prompt `extract` uses: the text, then where the JSON starts. */
export function extractionPrompt(text: string): string {
  return `${text}\nJSON:`;
}

/**
 * The prompt ids `extract` runs: an instruct model (one with a chat template) gets the task as a
 * conversation — a system message naming the schema, the text as the user's message — and answers in
 * its own turn; other models get `extractionPrompt(text)`.
 */
export function extractionPromptIds(tokenizer: PreTrainedTokenizer, text: string, schema: unknown): number[] {
  if (!tokenizer.chat_template) return tokenizer.encode(extractionPrompt(text));
  const system = `Extract the information in the user's message as JSON that matches this JSON Schema: ${JSON.stringify(schema)}. Use values from the message; answer with the JSON only.`;
  return chatPromptIds(tokenizer, [
    { role: 'system', content: system },
    { role: 'user', content: text },
  ]);
}

/** Every token's bytes in a trie, built once per tokenizer. */
export function tokenTrie(tokenizer: PreTrainedTokenizer): TokenTrie {
  let trie = tries.get(tokenizer);
  if (!trie) tries.set(tokenizer, (trie = new TokenTrie(tokenizer)));
  return trie;
}

export function jsonSchemaConstraint(tokenizer: PreTrainedTokenizer, schema: unknown, vocabSize: number, options: ConstraintOptions = {}): Constraint {
  const t = tokenTrie(tokenizer);
  const { root, table } = stateTable(t, schema, vocabSize);
  let state = table.intern(JsonMatcher.start(root));
  const save = new Float32Array((vocabSize >> 5) + 1);
  const source = options.source === undefined ? '' : latin1(new TextEncoder().encode(options.source));
  let written = '';
  const constraint: Constraint = {
    mask(logits) {
      const mask = table.mask(state);
      if (mask.count === 0) throw new SlmError('constrained decoding reached a state with no allowed token (please report this schema)');
      applyMask(mask, logits, save);
    },
    accept(token) {
      const bytes = t.bytesOf[token] ?? [];
      for (const b of bytes) state = table.step(state, b) ?? state;
      written += latin1(bytes);
    },
    get complete() {
      return state.matcher.complete;
    },
  };
  if (options.draft === false) return constraint;
  constraint.draft = (max) => {
    let bytes: ArrayLike<number> = table.forced(state);
    if (!bytes.length && source) bytes = lookup(source, written);
    // Keep the tokens the schema allows: a draft the constraint would mask is wasted work.
    const out: number[] = [];
    let at: State | null = state;
    for (const id of t.tokenize(bytes)) {
      if (out.length >= max || at.matcher.complete) break;
      for (const b of t.bytesOf[id]!) if (!(at = table.step(at, b))) break;
      if (!at) break;
      out.push(id);
    }
    return out;
  };
  return constraint;
}

/**
 * A constraint over any ByteMatcher (a tool call around JSON): masks by a fresh trie walk each step,
 * without the per-state cache JSON schemas get, and feeds the chosen tokens.
 */
export function matcherConstraint(trie: TokenTrie, matcher: ByteMatcher & { readonly complete: boolean }, vocabSize: number): Constraint {
  const allowed = new Uint8Array(vocabSize);
  return {
    mask(logits) {
      if (trie.allowed(matcher, allowed) === 0) throw new SlmError('constrained decoding reached a state with no allowed token (please report this schema)');
      for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
    },
    accept(token) {
      for (const b of trie.bytesOf[token] ?? []) matcher.feed(b);
    },
    get complete() {
      return matcher.complete;
    },
  };
}

function stateTable(trie: TokenTrie, schema: unknown, vocabSize: number): { root: ReturnType<typeof compileSchema>; table: StateTable } {
  let kept = tables.get(trie);
  if (!kept) tables.set(trie, (kept = new Map()));
  const key = `${vocabSize}:${JSON.stringify(schema)}`;
  let entry = kept.get(key);
  if (entry) kept.delete(key); // re-inserted below: most recent last
  else entry = { root: compileSchema(schema), table: new StateTable(trie, vocabSize) };
  kept.set(key, entry);
  if (kept.size > SCHEMAS_KEPT) kept.delete(kept.keys().next().value!);
  return entry;
}

/** Bytes as a string of char codes 0–255, so that byte sequences can be searched with indexOf. */
function latin1(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Prompt lookup: what followed the longest tail of `written` where it occurs in `source`. */
function lookup(source: string, written: string): number[] {
  for (let n = Math.min(LOOKUP.maxMatch, written.length); n >= LOOKUP.minMatch; n--) {
    const at = source.indexOf(written.slice(-n));
    if (at >= 0) return Array.from(source.slice(at + n, at + n + LOOKUP.copy), (c) => c.charCodeAt(0));
  }
  return [];
}
