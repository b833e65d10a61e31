/**
 * Constrained extraction: the logits are masked at every step so the output is always a prefix of a
 * JSON document valid for the schema, and generation ends as soon as the document is complete.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { SlmError } from '../../errors.ts';
import { JsonMatcher } from './json/matcher.ts';
import { compileSchema } from './json/schema.ts';
import { TokenTrie, type ByteMatcher } from './json/token-mask.ts';

/** Plugged into the decode loop: masks what may not come next, follows what was chosen. */
export interface Constraint {
  mask(logits: Float32Array): void;
  accept(token: number): void;
  readonly complete: boolean;
  /** False while a stop string must not end the output (inside a tool call); stops apply otherwise. */
  readonly stoppable?: boolean;
}

const tries = new WeakMap<PreTrainedTokenizer, TokenTrie>();

/** The prompt `extract` uses: the text, then where the JSON starts. */
export function extractionPrompt(text: string): string {
  return `${text}\nJSON:`;
}

/** Every token's bytes in a trie, built once per tokenizer. */
export function tokenTrie(tokenizer: PreTrainedTokenizer): TokenTrie {
  let trie = tries.get(tokenizer);
  if (!trie) tries.set(tokenizer, (trie = new TokenTrie(tokenizer)));
  return trie;
}

export function jsonSchemaConstraint(tokenizer: PreTrainedTokenizer, schema: unknown, vocabSize: number): Constraint {
  return matcherConstraint(tokenTrie(tokenizer), JsonMatcher.start(compileSchema(schema)), vocabSize);
}

/** Masks every token the matcher would reject and feeds it the chosen ones; complete when the matcher is. */
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
