/**
 * The real-world extraction fixture (tests/fixtures/extraction-sentences.json): runs `extract` (greedy)
 * on every sentence with the page's loaded model, checks each output against its schema with ajv, and
 * counts the fields equal to what a reader would extract (strings trimmed, case-insensitive).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../../models/sources.ts';
import type { ModelHandle } from '../../../src/index.ts';

interface Case {
  text: string;
  schema: Record<string, unknown>;
  expected: Record<string, unknown>;
}
const { cases } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests/fixtures/extraction-sentences.json'), 'utf8')) as { cases: Case[] };

/** Extracts with `window.model`; fails on any output that does not validate. Returns the fields right and in all, and the outputs. */
export async function scoreExtractions(page: Page): Promise<{ right: number; fields: number; outputs: string[] }> {
  const outputs = await page.evaluate(async (cases) => {
    const { model } = window as unknown as { model: ModelHandle };
    const out: string[] = [];
    for (const c of cases) out.push((await model.extract(c.text, c.schema)).text);
    return out;
  }, cases);
  const ajv = new Ajv({ strict: false });
  const norm = (v: unknown): unknown => (typeof v === 'string' ? v.trim().toLowerCase() : v);
  let right = 0;
  let fields = 0;
  outputs.forEach((text, i) => {
    const value = JSON.parse(text) as Record<string, unknown>;
    expect(ajv.validate(cases[i]!.schema, value), `${cases[i]!.text} → ${text}`).toBe(true);
    for (const [key, want] of Object.entries(cases[i]!.expected)) {
      fields++;
      if (norm(value[key]) === norm(want)) right++;
    }
  });
  return { right, fields, outputs };
}
