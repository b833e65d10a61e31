/**
 * JSON-schema constrained extraction with stories260K in Chromium, through the worker: a property test
 * over 200 generated schemas with sampling on (every output parses and validates with ajv), greedy
 * determinism, drafted tokens (jump-forward, prompt lookup) changing nothing but the number of model
 * runs, and typed errors that leave the worker serving.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { mulberry32, randomSchema, validator } from '../support/schemas.ts';
import { openHarness, useBrowser } from './support/browser.ts';

describe('extract(text, schema) with stories260K', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openHarness(browser());
    await page.evaluate(async () => {
      const w = window as unknown as { client: import('../../src/index.ts').SlmClient; model: import('../../src/index.ts').ModelHandle; slm: typeof import('../../src/index.ts') };
      w.client = await w.slm.SlmClient.inWorker();
      w.model = await w.client.load('stories260k', { dtype: 'fp32' });
    });
  });

  it('200 random schemas × seeds, sampling on: every output parses and validates', async () => {
    const cases = Array.from({ length: 200 }, (_, i) => ({ seed: i + 1, schema: randomSchema(mulberry32(1000 + i)) }));
    const outputs = await page.evaluate(async (cases) => {
      const model = (window as unknown as { model: import('../../src/index.ts').ModelHandle }).model;
      const out: Array<{ text: string; tokens: number } | { error: string }> = [];
      for (const c of cases) {
        try {
          const r = await model.extract('Lily had a red ball and a small dog named Max.', c.schema, { temperature: 1, topK: 40, seed: c.seed });
          out.push({ text: r.text, tokens: r.stats.generatedTokens });
        } catch (e) {
          out.push({ error: `${(e as Error).name}: ${(e as Error).message}` });
        }
      }
      return out;
    }, cases);
    const ajv = validator();
    outputs.forEach((o, i) => {
      expect('error' in o ? o.error : null, `case ${i}`).toBeNull();
      const { text } = o as { text: string };
      const value = JSON.parse(text);
      expect(ajv.validate(cases[i]!.schema, value), `case ${i}: ${text} vs ${JSON.stringify(cases[i]!.schema)} (${ajv.errorsText()})`).toBe(true);
    });
  });

  it('is deterministic for greedy decoding and returns the parsed value', async () => {
    const schema = { type: 'object', properties: { pet: { type: 'string', enum: ['dog', 'cat'] }, count: { type: 'integer' }, happy: { type: 'boolean' } }, required: ['pet', 'count', 'happy'], additionalProperties: false };
    const [a, b] = await page.evaluate(async (schema) => {
      const model = (window as unknown as { model: import('../../src/index.ts').ModelHandle }).model;
      return [await model.extract('Tom has two dogs.', schema), await model.extract('Tom has two dogs.', schema)];
    }, schema);
    expect([a!.text, a!.value]).toEqual([b!.text, b!.value]);
    expect(JSON.parse(a!.text)).toEqual(a!.value);
    expect(Object.keys(a!.value as object)).toEqual(['pet', 'count', 'happy']);
  });

  /** Each case extracted with drafts checked in one run and without: text, tokens and drafts per call. */
  const bothWays = (cases: Array<{ text: string; schema: unknown; seed?: number; temperature?: number }>) =>
    page.evaluate(async (cases) => {
      const model = (window as unknown as { model: import('../../src/index.ts').ModelHandle }).model;
      const out = [];
      for (const c of cases) {
        const options = { temperature: c.temperature ?? 0, ...(c.seed !== undefined && { seed: c.seed }) };
        const plain = await model.extract(c.text, c.schema, { ...options, lookahead: false });
        const drafted = await model.extract(c.text, c.schema, options);
        out.push({ plain: plain.text, drafted: drafted.text, plainTokens: plain.stats.generatedTokens, draftedTokens: drafted.stats.generatedTokens, accepted: drafted.stats.acceptedDraftTokens ?? 0, offered: drafted.stats.draftedTokens ?? 0 });
      }
      return out;
    }, cases);

  it('jump-forward and prompt lookup give the same greedy output as plain constrained decoding on 200 random schemas', async () => {
    const cases = Array.from({ length: 200 }, (_, i) => ({ text: 'Lily had a red ball and a small dog named Max.', schema: randomSchema(mulberry32(5000 + i)) }));
    const results = await bothWays(cases);
    results.forEach((r, i) => expect([r.drafted, r.draftedTokens], `case ${i}: ${JSON.stringify(cases[i]!.schema)}`).toEqual([r.plain, r.plainTokens]));
    // The drafts were used, not just made: schema-forced keys and punctuation are taken without a model run each.
    const accepted = results.reduce((n, r) => n + r.accepted, 0);
    expect(accepted).toBeGreaterThan(200);
  });

  it('on the extraction fixture, drafted and plain greedy outputs are equal and valid', async () => {
    const fixture = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/extraction.json'), 'utf8')) as { schema: object; documents: string[] };
    const results = await bothWays(fixture.documents.map((text) => ({ text, schema: fixture.schema })));
    const ajv = validator();
    for (const [i, r] of results.entries()) {
      expect([r.drafted, r.draftedTokens], `document ${i}`).toEqual([r.plain, r.plainTokens]);
      expect(ajv.validate(fixture.schema, JSON.parse(r.drafted)), `${r.drafted}: ${ajv.errorsText()}`).toBe(true);
    }
    expect(results.reduce((n, r) => n + r.accepted, 0)).toBeGreaterThan(0);
  });

  it('with sampling, drafts leave the seeded output unchanged', async () => {
    const cases = Array.from({ length: 30 }, (_, i) => ({ text: 'Tom has two dogs and a cat.', schema: randomSchema(mulberry32(7000 + i)), seed: i + 1, temperature: 0.9 }));
    const results = await bothWays(cases);
    results.forEach((r, i) => expect(r.drafted, `case ${i}`).toBe(r.plain));
  });

  it.each([
    ['an unsupported keyword', { type: 'string', pattern: '^(?=a)' }, 'UnsupportedSchemaError', /#\/pattern \(look-arounds/],
    ['a schema without a type', { minimum: 3 }, 'UnsupportedSchemaError', /anyOf, oneOf or \$ref is required/],
    ['text longer than the context', { type: 'boolean' }, 'ContextOverflowError', /context is 512 tokens/],
  ] as const)('%s gives its typed error and the worker keeps serving', async (_label, schema, name, message) => {
    const r = await page.evaluate(async ({ schema, long }) => {
      const model = (window as unknown as { model: import('../../src/index.ts').ModelHandle }).model;
      let failure: { name: string; message: string } | null = null;
      try {
        await model.extract(long ? 'word '.repeat(700) : 'x', schema);
      } catch (e) {
        failure = { name: (e as Error).name, message: (e as Error).message };
      }
      const after = await model.extract('Lily is happy.', { type: 'boolean' });
      return { failure, after: after.value };
    }, { schema, long: name === 'ContextOverflowError' });
    expect(r.failure?.name).toBe(name);
    expect(r.failure?.message).toMatch(message);
    expect(typeof r.after).toBe('boolean');
  });
});
