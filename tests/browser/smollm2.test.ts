/**
 * SmolLM2-135M-Instruct (converted from its GGUF) through the public API in Chromium on WASM: chat in
 * its own template ending at its end-of-turn token, and JSON extraction of real-world sentences (greedy),
 * scored field by field against the values a reader would extract.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelHandle, SlmClient } from '../../src/index.ts';
import { openHarness, useBrowser } from './support/browser.ts';
import { scoreExtractions } from './support/extraction-score.ts';

type Window = { slm: typeof import('../../src/index.ts'); client: SlmClient; model: ModelHandle };

describe('SmolLM2-135M-Instruct in Chromium (WASM, q4)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openHarness(browser());
    await page.evaluate(async () => {
      const w = window as unknown as Window;
      w.client = await w.slm.SlmClient.inWorker();
      w.model = await w.client.load('smollm2-135m-instruct', { dtype: 'q4' });
    });
  }, 300_000);

  it('chats in its own template and stops at its end-of-turn token', async () => {
    const c = await page.evaluate(() =>
      (window as unknown as Window).model.chat.completions.create({ messages: [{ role: 'user', content: 'What is the capital of France? Answer in one word.' }], max_tokens: 24 }),
    );
    console.log(`SmolLM2 chat: ${JSON.stringify(c.choices[0]!.message.content)} (${c.usage.completion_tokens} tokens)`);
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(c.choices[0]!.message.content).toMatch(/Paris/);
    expect(c.choices[0]!.message.content).not.toMatch(/<\|im_(start|end)\|>/);
  });

  it('extracts valid JSON from 20 real-world sentences and gets most fields right', async () => {
    const { right, fields, outputs } = await scoreExtractions(page);
    console.log(`SmolLM2 q4 extraction: ${right}/${fields} fields right (${((100 * right) / fields).toFixed(1)} %)\n${outputs.join('\n')}`);
    expect(right / fields).toBeGreaterThanOrEqual(0.6);
  }, 400_000);
});
