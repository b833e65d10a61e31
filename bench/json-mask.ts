/**
 * Token-mask cost of JSON-constrained decoding on the 32,000-piece Llama-2 vocabulary (a stand-in for
 * the 49k / 262k vocabularies of real models), in Node, without a model: a fixed extraction schema, and
 * at each step the allowed token that copies most of a fixed target document (so every run walks the
 * same states). Times only the mask (computing the allowed set and applying it to a logits row).
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { buildTokenizerConfig, buildTokenizerJson } from '../models/hf/tokenizer.ts';
import { parseTokenizerBin } from '../models/llama2c/tokenizer-bin.ts';
import { LLAMA2_TOKENIZER, resolveSource } from '../models/sources.ts';
import { jsonSchemaConstraint } from '../src/engine/tasks/extract.ts';

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

/** One document under the constraint: mask milliseconds per generated token, and the tokens. */
export function maskRun(tokenizer: PreTrainedTokenizer, vocabSize: number): { msPerToken: number; tokens: number } {
  const constraint = jsonSchemaConstraint(tokenizer, MASK_SCHEMA, vocabSize);
  const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
  const pieces: string[] = [];
  for (const [piece, id] of vocab instanceof Map ? vocab : Object.entries(vocab)) pieces[id] = piece.replaceAll('▁', ' ');
  const logits = new Float32Array(vocabSize);
  let text = '';
  let spent = 0;
  let tokens = 0;
  while (!constraint.complete) {
    logits.fill(0);
    const started = performance.now();
    constraint.mask(logits);
    spent += performance.now() - started;
    // The allowed token that copies the longest next piece of the target (a byte token when none does).
    let best = -1;
    for (let id = 0; id < vocabSize; id++) {
      if (logits[id] === -Infinity || !pieces[id]) continue;
      const p = pieces[id]!;
      const byte = /^<0x([0-9A-F]{2})>$/.exec(p);
      const s = byte ? String.fromCharCode(parseInt(byte[1]!, 16)) : p;
      if (MASK_TARGET.startsWith(s, text.length) && (best < 0 || s.length > pieces[best]!.length)) best = id;
    }
    if (best < 0) throw new Error(`the target document left the schema after ${JSON.stringify(text)}`);
    const byte = /^<0x([0-9A-F]{2})>$/.exec(pieces[best]!);
    text += byte ? String.fromCharCode(parseInt(byte[1]!, 16)) : pieces[best]!;
    constraint.accept(best);
    tokens++;
  }
  if (text !== MASK_TARGET) throw new Error(`mask bench produced ${JSON.stringify(text)}`);
  return { msPerToken: spent / tokens, tokens };
}
