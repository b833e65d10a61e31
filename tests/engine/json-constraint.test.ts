/**
 * Constrained decoding without a model in the loop: random but always-allowed tokens of the real
 * stories260K vocabulary, chosen under the token mask, must always yield JSON valid for the schema.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedSchemaError } from '../../src/errors.ts';
import { JsonMatcher } from '../../src/engine/tasks/json/matcher.ts';
import { compileSchema } from '../../src/engine/tasks/json/schema.ts';
import { TokenTrie } from '../../src/engine/tasks/json/token-mask.ts';
import { mulberry32, randomSchema } from '../support/schemas.ts';
import { STORIES_DIR } from '../support/sources.ts';

const tokenizer = new PreTrainedTokenizer(JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8')));
const trie = new TokenTrie(tokenizer);
const ajv = new Ajv({ strict: false });

describe('JSON-schema token constraint', () => {
  it('accepts and rejects byte by byte as the schema says', () => {
    const node = compileSchema({ type: 'object', properties: { name: { type: 'string', maxLength: 3 }, age: { type: 'integer' } }, required: ['age'], additionalProperties: false });
    const accepts = (text: string): boolean => {
      const m = JsonMatcher.start(node);
      return [...new TextEncoder().encode(text)].every((b) => m.feed(b)) && m.complete;
    };
    expect(accepts('{"name":"Tom","age":3}')).toBe(true);
    expect(accepts('{ "age": -12}')).toBe(true);
    expect(accepts('{"age":3,"name":"Tom"}')).toBe(false); // schema order
    expect(accepts('{"name":"Tomas","age":3}')).toBe(false); // maxLength
    expect(accepts('{"name":"Tom"}')).toBe(false); // required age
    expect(accepts('{"age":3.5}')).toBe(false); // integer
    expect(accepts('{"age":3,"x":1}')).toBe(false); // no other properties
    expect(accepts('{"age":03}')).toBe(false); // leading zero
  });

  it('accepts only well-formed UTF-8 in strings: no overlong forms, surrogates or code points above U+10FFFF', () => {
    const node = compileSchema({ type: 'string' });
    const accepts = (bytes: number[]): boolean => {
      const m = JsonMatcher.start(node);
      return [0x22, ...bytes, 0x22].every((b) => m.feed(b)) && m.complete;
    };
    expect(accepts([...new TextEncoder().encode('é€😀\u{10FFFF}')])).toBe(true);
    expect(accepts([0xe0, 0x99, 0xb8])).toBe(false); // overlong
    expect(accepts([0xed, 0xa0, 0x80])).toBe(false); // surrogate
    expect(accepts([0xf0, 0x8f, 0xbf, 0xbf])).toBe(false); // overlong
    expect(accepts([0xf4, 0x90, 0x80, 0x80])).toBe(false); // above U+10FFFF
  });

  it('names unsupported keywords in a typed error', () => {
    const failure = (() => {
      try {
        compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: '^x' }, b: { oneOf: [] } }, patternProperties: {} });
      } catch (e) {
        return e;
      }
    })() as UnsupportedSchemaError;
    expect(failure).toBeInstanceOf(UnsupportedSchemaError);
    expect(failure.details.keywords).toEqual(['#/patternProperties', '#/properties/a/pattern', '#/properties/b/type null (type or enum is required)']);
  });

  it('for 300 random schemas, random allowed tokens always make valid JSON, and the mask is never empty', () => {
    const allowed = new Uint8Array(512);
    let steps = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rand = mulberry32(seed);
      const schema = randomSchema(rand);
      const matcher = JsonMatcher.start(compileSchema(schema));
      const bytes: number[] = [];
      while (!matcher.complete) {
        const count = trie.allowed(matcher, allowed);
        expect(count, `seed ${seed}: nothing allowed after ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(bytes)))}`).toBeGreaterThan(0);
        const ids = [...allowed.keys()].filter((id) => allowed[id]);
        const id = ids[Math.floor(rand() * ids.length)]!;
        for (const b of trie.bytesOf[id]!) expect(matcher.feed(b)).toBe(true);
        bytes.push(...trie.bytesOf[id]!);
        expect(bytes.length, `seed ${seed} runs away`).toBeLessThan(4000);
        steps++;
      }
      const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
      const value = JSON.parse(text);
      expect(ajv.validate(schema, value), `seed ${seed}: ${text} against ${JSON.stringify(schema)}: ${ajv.errorsText()}`).toBe(true);
    }
    expect(steps).toBeGreaterThan(1000);
  });
});
