/**
 * Constrained decoding without a model in the loop: random but always-allowed tokens of the real
 * stories260K vocabulary (and the 32k Llama-2 one), chosen under the token mask, must always yield JSON
 * valid for the schema (ajv with ajv-formats); cached masks equal freshly walked ones; forced bytes are
 * the only bytes the matcher accepts.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedSchemaError } from '../../src/errors.ts';
import { JsonMatcher } from '../../src/engine/tasks/json/matcher.ts';
import { compileSchema } from '../../src/engine/tasks/json/schema.ts';
import { applyMask, StateTable, TokenTrie, type TokenMask } from '../../src/engine/tasks/json/token-mask.ts';
import { llama2Tokenizer, MASK_SCHEMA } from '../../bench/json-mask.ts';
import { mulberry32, randomSchema, validator } from '../support/schemas.ts';
import { STORIES_DIR } from '../support/sources.ts';

const tokenizer = new PreTrainedTokenizer(JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8')));
const trie = new TokenTrie(tokenizer);
const ajv = validator();
const bytesOf = (text: string): number[] => [...new TextEncoder().encode(text)];

/** Which logits survive the mask, as applied in the decode loop: 1 where finite. */
function masked(mask: TokenMask, vocab: number): Uint8Array {
  const logits = new Float32Array(vocab).fill(0.5);
  applyMask(mask, logits, new Float32Array(vocab));
  return Uint8Array.from(logits, (x) => (x === -Infinity ? 0 : 1));
}

/** One random document, checking at every step that the table's mask is the one a fresh trie walk gives. */
function compareWithWalk(t: TokenTrie, table: StateTable, schema: unknown, rand: () => number): void {
  const fresh = new Uint8Array(table.vocabSize);
  const matcher = JsonMatcher.start(compileSchema(schema));
  let state = table.intern(matcher.clone());
  while (!matcher.complete) {
    const count = t.allowed(matcher, fresh);
    const mask = table.mask(state);
    expect(mask.count).toBe(count);
    expect(masked(mask, table.vocabSize)).toEqual(fresh);
    const ids = [...fresh.keys()].filter((id) => fresh[id]);
    const id = ids[Math.floor(rand() * ids.length)]!;
    for (const b of t.bytesOf[id]!) {
      matcher.feed(b);
      state = table.step(state, b)!;
    }
    expect(state.matcher.key()).toBe(matcher.key());
  }
}

/** Feeds random allowed tokens until the document is complete; returns its text. */
function randomDocument(t: TokenTrie, schema: unknown, rand: () => number, allowed = new Uint8Array(512)): string {
  const matcher = JsonMatcher.start(compileSchema(schema));
  const bytes: number[] = [];
  while (!matcher.complete) {
    const count = t.allowed(matcher, allowed);
    expect(count, `nothing allowed after ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(bytes)))} for ${JSON.stringify(schema)}`).toBeGreaterThan(0);
    const ids = [...allowed.keys()].filter((id) => allowed[id]);
    const id = ids[Math.floor(rand() * ids.length)]!;
    for (const b of t.bytesOf[id]!) expect(matcher.feed(b)).toBe(true);
    bytes.push(...t.bytesOf[id]!);
    expect(bytes.length, 'runs away').toBeLessThan(4000);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
}

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
        compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: '^(?=x)' }, b: { oneOf: [] }, c: { minimum: 1 } }, patternProperties: {} });
      } catch (e) {
        return e;
      }
    })() as UnsupportedSchemaError;
    expect(failure).toBeInstanceOf(UnsupportedSchemaError);
    expect(failure.details.keywords).toEqual([
      '#/patternProperties',
      '#/properties/a/pattern (look-arounds and named groups are not supported)',
      '#/properties/b/oneOf (a non-empty array of schemas)',
      '#/properties/c/type null (type, enum, const, anyOf, oneOf or $ref is required)',
    ]);
  });

  it.each([
    ['exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, '#/exclusiveMinimum'],
    ['multipleOf', { type: 'integer', multipleOf: 5 }, '#/multipleOf'],
    ['a format outside date, email, uuid', { type: 'string', format: 'date-time' }, '#/format "date-time" (only date, email, uuid)'],
    ['a back-reference in a pattern', { type: 'string', pattern: '^(a)\\1$' }, '#/pattern (the escape \\1 is not supported)'],
    ['a pattern no string within maxLength matches', { type: 'string', pattern: '^a{5}$', maxLength: 3 }, '#/pattern (no match of 0 to 3 printable ASCII characters)'],
    ['a recursive $ref', { type: 'object', properties: { next: { $ref: '#' } } }, '#/properties/next/$ref "#" (recursive)'],
    ['a remote $ref', { $ref: 'https://example.com/s.json' }, '#/$ref "https://example.com/s.json" (only local references, "#/$defs/…")'],
    ['oneOf with overlapping alternatives', { oneOf: [{ type: 'number' }, { type: 'integer' }] }, '#/oneOf (alternatives 0 and 1 may both match; use anyOf)'],
    ['keywords next to anyOf', { anyOf: [{ type: 'null' }], type: 'null' }, '#/type (next to anyOf)'],
    ['an empty minimum..maximum', { type: 'integer', minimum: 1.5, maximum: 1.7 }, '#/minimum..maximum (empty)'],
  ])('%s is an UnsupportedSchemaError naming it', (_label, schema, keyword) => {
    expect(() => compileSchema(schema)).toThrow(UnsupportedSchemaError);
    try {
      compileSchema(schema);
    } catch (e) {
      expect((e as UnsupportedSchemaError).details.keywords).toEqual([keyword]);
    }
  });

  it.each([
    ['anyOf', { anyOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'object', properties: { a: { type: 'boolean' } }, required: ['a'], additionalProperties: false }] }, [/^\d$/, /^\{/]],
    ['oneOf', { oneOf: [{ type: 'object', properties: { kind: { const: 'cat' }, lives: { type: 'integer' } }, required: ['kind', 'lives'], additionalProperties: false }, { type: 'object', properties: { kind: { const: 'dog' } }, required: ['kind'], additionalProperties: false }] }, [/"cat"/, /"dog"/]],
    ['$ref/$defs', { $defs: { pet: { type: 'string', enum: ['cat', 'dog'] } }, type: 'array', items: { $ref: '#/$defs/pet' }, minItems: 1, maxItems: 2 }, [/"(cat|dog)"/]],
    ['const', { type: 'object', properties: { v: { const: { n: [1, 'two'] } } }, required: ['v'], additionalProperties: false }, [/\{"n":\[1,"two"\]\}/]],
    ['pattern', { type: 'string', pattern: '^[A-Z][a-z]{1,5}-\\d{2}(x|yz)?$' }, [/^"[A-Z][a-z]{1,5}-\d{2}(x|yz)?"$/]],
    ['minimum/maximum (number)', { type: 'number', minimum: -2.5, maximum: 3 }, [/^-/, /^\d/]],
    ['minimum/maximum (integer)', { type: 'array', items: { type: 'integer', minimum: 95, maximum: 105 }, minItems: 3, maxItems: 3 }, [/1\d\d/, /9\d/]],
    ['format: date', { type: 'string', format: 'date' }, [/^"\d{4}-\d\d-\d\d"$/]],
    ['format: email', { type: 'string', format: 'email', maxLength: 30 }, [/@/]],
    ['format: uuid', { type: 'string', format: 'uuid' }, [/^"[0-9a-f]{8}-/]],
    ['nullable union', { type: ['string', 'null'], maxLength: 4 }, [/^null$/, /^"/]],
  ])('%s: 40 random documents validate with ajv and cover the alternatives', (_label, schema, shapes) => {
    const rand = mulberry32(7);
    const texts = Array.from({ length: 40 }, () => randomDocument(trie, schema, rand));
    for (const text of texts) expect(ajv.validate(schema, JSON.parse(text)), `${text}: ${ajv.errorsText()}`).toBe(true);
    for (const shape of shapes) expect(texts.some((t) => shape.test(t.trim())), `no output like ${shape}: ${texts.join(' | ')}`).toBe(true);
  });

  it('for 300 random schemas, random allowed tokens always make valid JSON, and the mask is never empty', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = mulberry32(seed);
      const schema = randomSchema(rand);
      const text = randomDocument(trie, schema, rand);
      expect(ajv.validate(schema, JSON.parse(text)), `seed ${seed}: ${text} against ${JSON.stringify(schema)}: ${ajv.errorsText()}`).toBe(true);
    }
  });

  it('state-table masks (cached, walked through cached transitions) equal the plain trie walk at every step', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = mulberry32(seed);
      compareWithWalk(trie, new StateTable(trie, 512), randomSchema(rand), rand);
    }
  });

  it('on the 32k Llama-2 vocabulary, cached masks equal walked ones for an extraction schema, document after document', async () => {
    const llama = new TokenTrie(await llama2Tokenizer());
    const rand = mulberry32(3);
    const table = new StateTable(llama, 32000);
    for (let doc = 0; doc < 3; doc++) compareWithWalk(llama, table, MASK_SCHEMA, rand);
  });

  it('forced() gives the bytes the schema leaves no choice about, and only those', () => {
    const node = compileSchema({
      type: 'object',
      properties: { color: { type: 'string', enum: ['red', 'green', 'greenish'] }, kind: { const: 'toy' }, n: { type: 'integer' } },
      required: ['color', 'kind', 'n'],
      additionalProperties: false,
    });
    const after = (prefix: string): string => {
      const m = JsonMatcher.start(node);
      for (const b of bytesOf(prefix)) expect(m.feed(b)).toBe(true);
      return new TextDecoder().decode(Uint8Array.from(m.forced()));
    };
    expect(after('')).toBe('');
    expect(after('{')).toBe(''); // a space or the quote
    expect(after('{"')).toBe('color"');
    expect(after('{"color": "r')).toBe('ed"');
    expect(after('{"color": "g')).toBe('reen');
    expect(after('{"color":"red","')).toBe('kind"');
    expect(after('{"color":"red","kind":')).toBe('');
    expect(after('{"color":"red","kind":"')).toBe('toy"');
    expect(after('{"color":"red","kind":"toy","n":1')).toBe('');
    // Every forced byte is the only one the matcher accepts at that point.
    const m = JsonMatcher.start(node);
    for (const b of bytesOf('{"color": "g')) m.feed(b);
    for (const b of m.forced()) {
      const accepted = Array.from({ length: 256 }, (_, x) => x).filter((x) => m.clone().feed(x));
      expect(accepted).toEqual([b]);
      m.feed(b);
    }
  });
});
