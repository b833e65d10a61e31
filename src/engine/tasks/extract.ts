/**
 * Constrained extraction: the logits are masked at every step so the output is always a prefix of a
 * JSON document valid for the schema, and generation ends as soon as the document is complete.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { SlmError } from '../../errors.ts';
import { JsonMatcher } from './json/matcher.ts';
import { compileSchema } from './json/schema.ts';
import { TokenTrie } from './json/token-mask.ts';

/** Plugged into the decode loop: masks what may not come next, follows what was chosen. */
export interface Constraint {
  mask(logits: Float32Array): void;
  accept(token: number): void;
  readonly complete: boolean;
}

const tries = new WeakMap<PreTrainedTokenizer, TokenTrie>();

/** The prompt `extract` uses: the text, then where the JSON starts. */
export function extractionPrompt(text: string): string {
  return `${text}\nJSON:`;
}

export function jsonSchemaConstraint(tokenizer: PreTrainedTokenizer, schema: unknown, vocabSize: number): Constraint {
  const matcher = JsonMatcher.start(compileSchema(schema));
  let trie = tries.get(tokenizer);
  if (!trie) tries.set(tokenizer, (trie = new TokenTrie(tokenizer)));
  const allowed = new Uint8Array(vocabSize);
  const t = trie;
  return {
    mask(logits) {
      if (t.allowed(matcher, allowed) === 0) throw new SlmError('constrained decoding reached a state with no allowed token (please report this schema)');
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
